"""Spec-independent code of the generated packages: ordinary modules, copied verbatim into them.

``runtime/client`` is copied into ``qcvn120_client`` and ``runtime/server`` into ``qcvn120_server``
by :func:`qcvngen.targets.common.runtime_files`, each file after the generated-file header line;
``runtime/shared`` (the capture format's writer) is copied into both.
Modules here import only the standard library, their third-party dependencies and their siblings
(relative imports), so the generated packages stay self-contained and can be vendored under
another name; they are linted, type-checked and unit-tested where they stand.
"""
