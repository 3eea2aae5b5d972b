"""The per-user cache folder (qcvngen.usercache): where it is, that an unsafe one is never used
(and every command still works), that nothing a working folder carries in ``.qcvngen-cache/`` is
read, and that two projects sharing one cache never answer for each other."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from typer.testing import CliRunner

from qcvngen import toolcache, usercache
from qcvngen.cli import app
from qcvngen.console import fast_check
from qcvngen.fastcheck import CHECK_FOLDER, input_digest, is_fresh, manifest_path, output_digests, project_of, record
from qcvngen.pipeline import BuildResult
from qcvngen.resources import templates_dir
from qcvngen.writer import write
from support.paths import SPEC, copy_spec
from support.tool_calls import counting

SMALL = {PurePosixPath("a.txt"): "a\n", PurePosixPath("sub/b.txt"): "b\n"}
PLANTED = "# PLANTED BY A CHANGE UNDER REVIEW"


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warnings given by earlier tests do not silence this one's."""
    monkeypatch.setattr(usercache, "_warned", set())


@pytest.fixture
def shared_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every group holds other users too (whatever this machine's groups are): group write counts."""
    monkeypatch.setattr(usercache, "_private_group", lambda gid: False)


# -- where the root is ---------------------------------------------------------------------------


def test_the_root_is_the_variable_else_xdg_else_the_home_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(tmp_path / "mine"))
    assert usercache.root() == tmp_path / "mine"
    monkeypatch.delenv("QCVNGEN_CACHE_DIR")
    assert usercache.root() == tmp_path / "xdg" / "qcvngen"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid by the XDG spec: ignored
    assert usercache.root() == tmp_path / "home" / ".cache" / "qcvngen"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert usercache.root() == tmp_path / "home" / ".cache" / "qcvngen"
    monkeypatch.setenv("HOME", ".")  # a relative home is no home
    assert usercache.root() is None


@pytest.mark.parametrize("where", ["working folder", "git work tree"])
@pytest.mark.usefixtures("quiet")
def test_a_cache_in_the_working_folder_or_its_git_tree_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """CI setups keep XDG_CACHE_HOME (or HOME) in the checkout, where a change under review could
    commit entries: caches are off there unless QCVNGEN_CACHE_DIR says otherwise."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "sub").mkdir()
    monkeypatch.chdir(project if where == "working folder" else project / "sub")
    monkeypatch.delenv("QCVNGEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(project / ".cache"))
    calls: list[str] = []
    for _ in range(2):
        assert toolcache.cached_many("t", ["v"], {"x": "abc"}, counting(calls)) == {"x": "ABC"}
    assert calls == ["abc", "abc"] and not (project / ".cache").exists()
    assert "inside the working folder or its git work tree" in capsys.readouterr().err
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(project / ".cache" / "chosen"))  # chosen, so used
    assert usercache.folder("tools") == project / ".cache" / "chosen" / "tools"


def test_the_home_cache_is_used_from_the_home_folder_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("QCVNGEN_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert usercache.folder("tools") == home / ".cache" / "qcvngen" / "tools"
    (home / ".git").mkdir()  # a home that is a git work tree (dotfiles) is a checkout like any
    assert usercache.folder("check") is None


def test_a_missing_root_is_made_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(tmp_path / "a" / "b" / "root"))
    tools = usercache.folder("tools")
    assert tools == tmp_path / "a" / "b" / "root" / "tools"
    for made in (tools, tools.parent):
        assert made.is_dir() and made.stat().st_mode & 0o777 == 0o700


# -- an unsafe root is not used, with one line on stderr -------------------------------------------


def _group_writable(root: Path) -> None:
    root.mkdir(mode=0o700)
    root.chmod(0o770)


def _world_writable(root: Path) -> None:
    root.mkdir(mode=0o700)
    root.chmod(0o707)


def _linked(root: Path) -> None:
    target = root.parent / "target"
    target.mkdir(mode=0o700)
    root.symlink_to(target, target_is_directory=True)


def _a_file(root: Path) -> None:
    root.write_text("not a folder\n", encoding="utf-8")


UNSAFE = {
    "group-writable": (_group_writable, "is writable by other users"),
    "world-writable": (_world_writable, "is writable by other users"),
    "symlink": (_linked, "is a symbolic link"),
    "a-file": (_a_file, "is not a folder"),
}


@pytest.mark.parametrize("kind", sorted(UNSAFE))
@pytest.mark.usefixtures("quiet", "shared_groups")
def test_an_unsafe_root_is_not_used_and_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    make, why = UNSAFE[kind]
    root = tmp_path / "root"
    make(root)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(root))
    calls: list[str] = []
    for _ in range(2):
        assert toolcache.cached_many("t", ["v"], {"x": "abc"}, counting(calls)) == {"x": "ABC"}
    out = tmp_path / "gen"
    write(out, SMALL)
    record(SPEC, templates_dir(), out)
    assert not is_fresh(SPEC, templates_dir(), out)
    assert calls == ["abc", "abc"]  # the tool ran each time: nothing was cached
    assert sorted(p.name for p in tmp_path.rglob("*") if "gen" not in p.parts) == before
    assert capsys.readouterr().err.splitlines() == [
        f"warning: qcvngen's cache folder {root} {why}; running without caches"
    ]


@pytest.mark.usefixtures("quiet")
def test_a_root_of_another_user_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(root))
    monkeypatch.setattr(os, "getuid", lambda: root.stat().st_uid + 1)
    assert usercache.folder("tools") is None
    assert list(root.iterdir()) == []


@pytest.mark.usefixtures("quiet")
def test_a_root_in_a_folder_others_may_write_to_is_not_used_unless_it_is_sticky(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another user who may write to a folder above the root could rename the root away after it
    was checked and put theirs in its place: only a sticky folder (as /tmp) stops them."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(shared / "deeper" / "root"))
    assert usercache.folder("tools") is None
    assert list(shared.iterdir()) == []  # nothing made in it
    said = f"lies in {shared}, which other users may write to (set QCVNGEN_CACHE_DIR to a folder of your own)"
    assert capsys.readouterr().err.splitlines() == [
        f"warning: qcvngen's cache folder {shared / 'deeper' / 'root'} {said}; running without caches"
    ]
    shared.chmod(0o1777)
    assert usercache.folder("tools") == shared / "deeper" / "root" / "tools"


@pytest.mark.usefixtures("quiet")
def test_a_root_behind_a_link_in_a_folder_others_may_write_to_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever may write beside a link may change where it leads: the folders written in the path
    count, not only those it leads to."""
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    private.mkdir(mode=0o700)
    (shared / "link").symlink_to(private, target_is_directory=True)
    shared.chmod(0o777)
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(shared / "link" / "qcvngen"))
    assert usercache.folder("tools") is None
    assert list(private.iterdir()) == []


@pytest.mark.usefixtures("quiet")
def test_group_write_of_the_users_own_group_is_no_danger_and_made_folders_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under umask 002 (Fedora's default for users in a group of their own) every folder another
    tool makes is group-writable: the caches stay on where that group is the user's own, and the
    folders qcvngen makes above its root are private whatever the umask."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    monkeypatch.delenv("QCVNGEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    monkeypatch.setattr(usercache, "_private_group", lambda gid: True)
    before = os.umask(0o002)
    try:
        for _ in range(2):
            assert usercache.folder("tools") == home / ".cache" / "qcvngen" / "tools"
        assert (home / ".cache").stat().st_mode & 0o777 == 0o700
        (home / ".cache").chmod(0o775)  # as another tool would have made it
        assert usercache.folder("tools") == home / ".cache" / "qcvngen" / "tools"
    finally:
        os.umask(before)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(usercache, "_private_group", lambda gid: False)
    assert usercache.folder("tools") is None


@pytest.mark.usefixtures("quiet")
def test_a_root_in_a_folder_of_another_user_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    real_stat = os.stat

    def stat_as_if_theirs(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        found = real_stat(path, *args, **kwargs)
        if Path(path) == theirs:
            fields = list(found)
            fields[4] = os.getuid() + 4242  # st_uid
            return os.stat_result(fields)
        return found

    monkeypatch.setattr(os, "stat", stat_as_if_theirs)
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(theirs / "root"))
    assert usercache.folder("tools") is None
    assert list(theirs.iterdir()) == []


@pytest.mark.usefixtures("quiet")
def test_a_linked_subfolder_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir(mode=0o700)
    elsewhere.mkdir()
    (root / CHECK_FOLDER).symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(root))
    out = tmp_path / "gen"
    write(out, SMALL)
    record(SPEC, templates_dir(), out)
    assert not is_fresh(SPEC, templates_dir(), out) and list(elsewhere.iterdir()) == []


@pytest.mark.usefixtures("quiet", "shared_groups")
def test_a_build_with_an_unsafe_root_works_uncached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, result: BuildResult
) -> None:
    root = tmp_path / "root"
    _group_writable(root)
    monkeypatch.setenv("QCVNGEN_CACHE_DIR", str(root))
    built = CliRunner().invoke(app, ["build", "--spec", str(SPEC), "--out", str(tmp_path / "generated")])
    assert built.exit_code == 0, built.output
    assert built.stderr.count("running without caches") == 1, built.stderr
    assert list(root.iterdir()) == []
    written = {p.relative_to(tmp_path / "generated").as_posix() for p in (tmp_path / "generated").rglob("*")}
    assert {path.as_posix() for path in result.files} <= written


# -- a working folder's .qcvngen-cache/ (what older versions used) is never read -------------------


def _plant_tool_entries(source: Path, folder: Path) -> int:
    """Every entry of ``source`` with the marker appended, and its digest made to match, in ``folder``."""
    folder.mkdir(parents=True)
    planted = 0
    for entry in source.glob("*.json"):
        data = json.loads(entry.read_text(encoding="utf-8"))
        data["text"] += f"\n{PLANTED}\n"
        data["sha256"] = hashlib.sha256(data["text"].encode("utf-8", "surrogatepass")).hexdigest()
        (folder / entry.name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        planted += 1
    return planted


def test_planted_tool_entries_in_the_working_folder_are_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_cache: Path, result: BuildResult
) -> None:
    """A change under review commits `.qcvngen-cache/tools/` holding well-formed entries for the
    spec's exact tool inputs (keys and digests right), but with its own text: a build ignores them."""
    assert _plant_tool_entries(private_cache / "tools", tmp_path / ".qcvngen-cache" / "tools") > 10
    monkeypatch.chdir(tmp_path)
    built = CliRunner().invoke(app, ["build", "--spec", str(SPEC), "--out", "generated"])
    assert built.exit_code == 0, built.output
    for path, text in result.files.items():
        assert (tmp_path / "generated" / path).read_text(encoding="utf-8") == text, path
    assert not [p for p in (tmp_path / "generated").rglob("*") if p.is_file() and PLANTED in p.read_text("utf-8")]


def test_a_planted_check_record_in_the_working_folder_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale output folder and a record, in `.qcvngen-cache/` where older versions kept it, that
    vouches for exactly that stale output: `check` still reports it stale."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["build", "--spec", str(SPEC), "--out", "generated"]).exit_code == 0
    out = tmp_path / "generated"
    (out / "openapi" / "openapi.json").write_text("{}", encoding="utf-8")
    planted = {"inputs": input_digest(SPEC, templates_dir()), "files": output_digests(out)}
    old_name = f"check-{hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]}.json"
    project = project_of(SPEC, templates_dir(), out)
    for where in (tmp_path / ".qcvngen-cache", tmp_path / ".qcvngen-cache" / CHECK_FOLDER):
        where.mkdir(exist_ok=True)
        (where / old_name).write_text(json.dumps(planted), encoding="utf-8")
        named = manifest_path(where, project)
        named.write_text(json.dumps({**planted, "project": project}), encoding="utf-8")
    argv = ["check", "--spec", str(SPEC), "--out", "generated"]
    assert not fast_check(argv)
    checked = runner.invoke(app, argv)
    assert checked.exit_code == 1 and "changed: openapi/openapi.json" in checked.output, checked.output


# -- two projects sharing one cache ---------------------------------------------------------------


def test_a_fresh_check_in_one_project_does_not_make_another_stale_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two working folders, each `spec/` and `generated/` (the defaults), one QCVNGEN_CACHE_DIR."""
    runner = CliRunner()
    projects = {name: tmp_path / name for name in ("a", "b")}
    for folder in projects.values():
        copy_spec(folder)
        monkeypatch.chdir(folder)
        assert runner.invoke(app, ["build"]).exit_code == 0
    table = projects["b"] / "spec" / "tables" / "t03-cap-nhat-tien-do-ho-so-mc.yaml"
    text = table.read_text(encoding="utf-8")
    assert 'en: "dossier code"' in text
    table.write_text(text.replace('en: "dossier code"', 'en: "dossier code (edited)"', 1), encoding="utf-8")
    monkeypatch.chdir(projects["a"])
    assert fast_check(["check"])  # A's build recorded A; A is fresh
    assert runner.invoke(app, ["check"]).exit_code == 0
    monkeypatch.chdir(projects["b"])
    assert not fast_check(["check"])
    stale = runner.invoke(app, ["check"])
    assert stale.exit_code == 1 and "is stale" in stale.output, stale.output


def test_a_record_answers_only_for_the_folders_it_names(tmp_path: Path) -> None:
    """Projects A and B byte-for-byte alike: A's record, even under B's name, does not vouch for B."""
    specs = {name: copy_spec(tmp_path / name) for name in ("a", "b")}
    outs = {name: tmp_path / name / "gen" for name in ("a", "b")}
    for out in outs.values():
        write(out, SMALL)
    record(specs["a"], templates_dir(), outs["a"])
    assert is_fresh(specs["a"], templates_dir(), outs["a"])
    assert not is_fresh(specs["b"], templates_dir(), outs["b"])
    folder = usercache.folder(CHECK_FOLDER)
    assert folder is not None
    shutil.copyfile(
        manifest_path(folder, project_of(specs["a"], templates_dir(), outs["a"])),
        manifest_path(folder, project_of(specs["b"], templates_dir(), outs["b"])),
    )
    assert not is_fresh(specs["b"], templates_dir(), outs["b"])
    record(specs["b"], templates_dir(), outs["b"])
    assert is_fresh(specs["b"], templates_dir(), outs["b"]) and is_fresh(specs["a"], templates_dir(), outs["a"])


def test_a_table_saved_while_a_build_runs_leaves_a_record_a_plain_check_does_not_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record names the inputs as the build read them: the table saved during the build makes
    them differ, so ``check`` (without ``--full``) rebuilds and finds the output stale."""
    import qcvngen.cli as cli

    spec = copy_spec(tmp_path)
    out = tmp_path / "generated"
    table = spec / "tables" / "t02-dong-bo-ho-so-mc.yaml"
    built = cli._build_or_exit

    def build_then_save(chosen: Path | None) -> BuildResult:
        result = built(chosen)
        table.write_text(table.read_text().replace('en: "dossier code"', 'en: "dossier code, edited"', 1))
        return result

    monkeypatch.setattr(cli, "_build_or_exit", build_then_save)
    runner = CliRunner()
    assert runner.invoke(app, ["build", "--spec", str(spec), "--out", str(out)]).exit_code == 0
    monkeypatch.setattr(cli, "_build_or_exit", built)
    assert not is_fresh(spec, templates_dir(), out)
    checked = runner.invoke(app, ["check", "--spec", str(spec), "--out", str(out)])
    assert checked.exit_code == 1, checked.output  # stale: the output predates the edit
