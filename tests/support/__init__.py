"""What the tests share: paths (ROOT, SPEC, SAMPLES, copy_spec), the wire samples (samples), a real
sandbox process (sandbox_process), calls to a running portal (portal_calls), Table 1 as the spec states
it (table1), the Debian programs some tests install (system_packages), and the hostile-spec harness
(hostile). Fixtures stay in tests/conftest.py; helpers are imported from here, never from a test file.
"""
