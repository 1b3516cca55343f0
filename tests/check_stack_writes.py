#!/usr/bin/env python3
"""Flags writes into a fixed-size stack array at a computed offset.

The pattern behind the access-log overflow of issue 11:

    char line[4096];
    o += log_escape(line + o, 2048 - o, ...);          /* size wraps */
    o += snprintf(line + o, sizeof line - o, ...);     /* o may pass the end */

Every such write must compute its own remaining room from an offset that
earlier writes advanced, and one wrong subtraction (or snprintf's return
value, the length it wanted rather than what it wrote) puts the next write
past the array on the stack. Lines and heads are to be built with the one
bounded writer instead (BOUNDED_WRITERS below), which tracks the room
itself and truncates.

What counts as a hit: inside a function, an array of bytes declared with a
fixed size (char/unsigned char/uint8_t/... name[N]) that is handed to a call
as its FIRST argument (the destination by C convention: memcpy, snprintf,
vsnprintf, strcpy, a local helper such as log_escape) in the form
"name + expr" or "&name[expr]", where expr is not a plain number, or as a
pointer set to such an expression in the same function ("char *p = line +
o; strcpy(p, s)"). Calls that only read their first argument (strlen,
strchr, memcmp, ..., and functions of the file whose first parameter is a
pointer to const) are not hits. Not checked: writes through an index
("name[o++] = c"), arrays inside structs, pointers passed through other
functions.

Usage: tests/check_stack_writes.py [--self-test] [FILE.c ...]
Default files: server/*.c plugins/*/*.c (run from the source tree).
Prints FILE:LINE for each hit; exits 1 when there is any.
"""
import glob
import re
import sys

# Files allowed to write at a computed offset into a fixed array: the
# bounded writer itself, which checks the room on every write. Any other
# file uses it instead. Paths relative to the source tree.
BOUNDED_WRITERS = [
    "server/sbuf.c",
]

# Calls whose first argument is only read.
READERS = {
    "strlen", "strnlen", "strchr", "strrchr", "memchr", "memrchr", "strstr", "memmem",
    "strcmp", "strncmp", "strcasecmp", "strncasecmp", "memcmp", "strspn", "strcspn",
    "strtol", "strtoul", "strtoll", "strtoull", "strtod", "atoi", "atol",
    "write", "send", "fputs", "puts", "printf", "inet_pton", "sizeof", "if", "while",
    "for", "switch", "return",
}

BYTE_TYPES = r"(?:unsigned\s+char|signed\s+char|char|uint8_t|int8_t|u_char)"
DECL = re.compile(r"(?:^|[;{}])\s*(?:(?:static|const|volatile|register)\s+)*" + BYTE_TYPES +
                  r"\s+([^;{}()]*?\[[^;{}]*?)(?=;)", re.S)
DECLARATOR = re.compile(r"^\s*\**\s*(\w+)\s*\[([^\]]*)\]")
NUMBER = re.compile(r"^\s*\(?\s*(?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*\s*\)?\s*$")


def strip(src):
    """Blanks comments, string and character literals (keeping newlines,
    so offsets still give line numbers)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", src[i + 1:j - 1]) + c)
            i = j
        elif c == "#" and (i == 0 or src[i - 1] == "\n"):
            j = i
            while True:  # a preprocessor line, with its continuations
                k = src.find("\n", j)
                if k < 0:
                    k = n
                if k > 0 and src[k - 1] == "\\" and k < n:
                    j = k + 1
                    continue
                break
            out.append(re.sub(r"[^\n]", " ", src[i:k]))
            i = k
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_top(s, sep=","):
    """Splits s at sep outside parentheses and brackets."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def functions(text):
    """Yields (start, end) of each top-level brace block (function bodies
    and, harmlessly, initialisers and struct bodies)."""
    depth, start = 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and start is not None:
                yield start, i + 1
                start = None


def arrays_in(body):
    """Names and sizes of fixed-size byte arrays declared in body."""
    found = {}
    for m in DECL.finditer(body):
        for d in split_top(m.group(1)):
            d = d.split("=", 1)[0]
            dm = DECLARATOR.match(d)
            if dm and dm.group(2).strip():
                found[dm.group(1)] = dm.group(2).strip()
    return found


def first_args(body):
    """Yields (offset, callee, first argument) of each call in body."""
    for m in re.finditer(r"\b(\w+)\s*\(", body):
        i, depth = m.end(), 1
        j = i
        while j < len(body) and depth:
            if body[j] == "(":
                depth += 1
            elif body[j] == ")":
                depth -= 1
            j += 1
        args = split_top(body[i:j - 1])
        yield m.start(), m.group(1), args[0]


def const_first(text):
    """Functions declared or defined in text whose first parameter is a
    pointer to const: they only read through it."""
    return set(re.findall(r"^[\w \t\*]*?\b(\w+)\s*\(\s*const\s+[\w\s]+\*", text, re.M))


def hits_in(path, src):
    text = strip(src)
    hits = []
    readers = READERS | const_first(text)
    for start, end in functions(text):
        body = text[start:end]
        arrays = arrays_in(body)
        if not arrays:
            continue
        # pointers set into an array at a computed offset ("char *p = line
        # + o;", "p = &line[o];") are that array at a computed offset too
        aliases = {}
        for name, size in list(arrays.items()):
            for m in re.finditer(r"(?:\*\s*)?\b(\w+)\s*=\s*(?:\([^()]*\*\s*\)\s*)?(?:" + name +
                                 r"\s*\+\s*([^;,]+?)|&\s*" + name + r"\s*\[([^\]]+)\])\s*[;,]", body):
                if not NUMBER.match(m.group(2) or m.group(3)):
                    aliases[m.group(1)] = (name, size)
        for off, callee, arg in first_args(body):
            if callee in readers:
                continue
            a = re.sub(r"^\s*\((?:const\s+)?(?:unsigned\s+)?\w+\s*\*\s*\)", "", arg).strip()
            alias = re.match(r"^\(?\s*(\w+)\s*(?:\+.*)?\)?$", a, re.S)
            if alias and alias.group(1) in aliases:
                name, size = aliases[alias.group(1)]
                line = text.count("\n", 0, start + off) + 1
                hits.append("%s:%d: %s() writes into stack array %s[%s] at computed offset through %s" %
                            (path, line, callee, name, size, alias.group(1)))
                continue
            for name, size in arrays.items():
                m = re.match(r"^\(?\s*" + name + r"\s*\+\s*(.+?)\)?$", a, re.S) or \
                    re.match(r"^&\s*" + name + r"\s*\[(.+)\]$", a, re.S)
                if m and not NUMBER.match(m.group(1)):
                    line = text.count("\n", 0, start + off) + 1
                    hits.append("%s:%d: %s() writes into stack array %s[%s] at computed offset: %s" %
                                (path, line, callee, name, size, " ".join(a.split())))
    return hits


SELF_TEST_BAD = """
static size_t esc(char *d, size_t cap, const char *s, size_t n);
void f(const char *a, size_t n)
{
    char line[4096], t[32];
    size_t o = (size_t)snprintf(line, sizeof line, "%s", a);
    o += esc(line + o, 2048 - o, a, n);
    o += snprintf(line + o, sizeof line - o, " x");
    memcpy(&t[o], a, 1);
    char *p = line + o;
    strcpy(p, a);
}
"""
SELF_TEST_GOOD = """
static int check(const char *name, size_t n);
void g(const char *a, char *heap, size_t o)
{
    char line[64];  /* "char x[9] + y" in a comment */
    snprintf(line, sizeof line, "%s", a);
    memcpy(heap + o, line, 3);
    write(1, line + o, 2);
    if (strchr(line + 1, 'x'))
        memcpy(line + 8, a, 2);
    char *name = line + o;
    check(name, 2);
}
"""


def self_test():
    bad = hits_in("bad.c", SELF_TEST_BAD)
    good = hits_in("good.c", SELF_TEST_GOOD)
    ok = len(bad) == 4 and not good
    for h in bad + good:
        print("  self-test: " + h)
    print("check_stack_writes self-test: %s (4 hits expected in bad.c, none in good.c)" %
          ("ok" if ok else "FAILED"))
    return ok


def main(argv):
    if argv and argv[0] == "--self-test":
        return 0 if self_test() else 1
    files = argv or sorted(glob.glob("server/*.c") + glob.glob("plugins/*/*.c"))
    hits = []
    for f in files:
        if f in BOUNDED_WRITERS:
            continue
        with open(f, encoding="utf-8", errors="replace") as fh:
            hits += hits_in(f, fh.read())
    for h in hits:
        print(h)
    print("check_stack_writes: %d files, %d hits (allowed: %s)" % (len(files), len(hits),
                                                                  ", ".join(BOUNDED_WRITERS)))
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
