"""The hostile-spec harness: a payload corpus, a spec writer and the checks run on every build."""
