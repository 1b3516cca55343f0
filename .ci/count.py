"""Sum individual test cases over automake's per-test logs.

Prints one line "N passed, N failed". Exits non-zero when a test program
failed without reporting cases (a crash), so nothing is silently uncounted.
"""
import re
import sys



def trs_result(path):
    """The automake result beside a log, or None when there is none."""
    try:
        with open(path[:-4] + ".trs") as f:
            m = re.search(r":test-result: (\w+)", f.read())
    except OSError:
        return None
    return m.group(1) if m else "ERROR"


passed = failed = 0
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8", errors="replace").read()
    m = re.search(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", text)
    if m:
        n, f, e = map(int, m.groups())
        passed += n - f - e
        failed += f + e
        # every case passed yet the program failed (a sanitizer or valgrind
        # report, a leak at exit): one more failure, so it is not hidden
        if f + e == 0 and trs_result(path) in ("FAIL", "ERROR"):
            failed += 1
        continue
    m = re.search(r"^Ran (\d+) tests?", text, re.M)
    if m:
        n = int(m.group(1))
        bad = 0
        fm = re.search(r"^FAILED \((.*)\)", text, re.M)
        if fm:
            for kind, num in re.findall(r"(failures|errors)=(\d+)", fm.group(1)):
                bad += int(num)
        skipped = 0
        sm = re.search(r"skipped=(\d+)", text)
        if sm:
            skipped = int(sm.group(1))
        passed += n - bad - skipped
        failed += bad
        continue
    trs = path[:-4] + ".trs"
    try:
        result = re.search(r":test-result: (\w+)", open(trs).read()).group(1)
    except (OSError, AttributeError):
        result = "ERROR"
    if result in ("PASS", "XFAIL"):
        passed += 1
    elif result != "SKIP":
        failed += 1
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
