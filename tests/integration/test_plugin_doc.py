#!/usr/bin/env python3
"""plughttpd-plugin(3) documents the plugin API that plugin.h declares.

The names are taken from the header itself, so the page cannot drift from
it unseen:

- every member of ph_server_api_t, ph_hooks_t, ph_plugin_t and
  ph_create_args_t, and every PH_ macro, is the tag of a .TP entry of the
  page (written api->NAME, hooks->NAME, plugin.NAME, args->NAME, PH_NAME);
- every such name the page mentions anywhere (tag or text) exists in the
  header, and a PH_X_* wildcard names at least one macro;
- every member of the other structures (ph_error_t, the info structures)
  is at least named;
- groff (and man, where installed) render the page with every warning on
  and print none.

A failure names each missing or unknown name.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

HEADER = os.path.join(harness.SRCDIR, "include", "plughttpd", "plugin.h")
PAGE = os.path.join(harness.SRCDIR, "man", "plughttpd-plugin.3.in")

# How the page writes a member of each structure.
QUALIFIED = {
    "ph_server_api": ("api", "->"),
    "ph_hooks": ("hooks", "->"),
    "ph_plugin": ("plugin", "."),
    "ph_create_args": ("args", "->"),
}
NAMED_ONLY = ("ph_error", "ph_route_info", "ph_server_info", "ph_str", "ph_kv")
# Members are lower case: api->NAME stands for any member in the page's text.
REF = re.compile(r"(?<![\w/-])(?:(api|hooks|args)->|(plugin)\.)([a-z_][a-z0-9_]*)")
MACRO = re.compile(r"\bPH_[A-Z0-9_]*[A-Z0-9](?:_\*)?")
# Font-alternating macros join their arguments without a space.
ALTERNATING = {".BI", ".BR", ".IB", ".IR", ".RB", ".RI"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def struct_members(code, tag):
    """Member names of `typedef struct TAG { ... }` in comment-free code."""
    m = re.search(r"typedef\s+struct\s+%s\s*\{(.*?)\}\s*%s_t\s*;" % (tag, tag), code, re.S)
    if m is None:
        raise AssertionError("plugin.h: no typedef struct %s" % tag)
    names = []
    for decl in m.group(1).split(";"):
        decl = decl.strip()
        if not decl:
            continue
        fn = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)
        if fn:
            names.append(fn.group(1))
            continue
        for part in re.sub(r"\[[^]]*\]", "", decl).split(","):
            names.append(re.findall(r"\w+", part)[-1])
    return names


def header_names():
    code = strip_c_comments(read(HEADER))
    members = {tag: struct_members(code, tag) for tag in list(QUALIFIED) + list(NAMED_ONLY)}
    macros = re.findall(r"^\s*#\s*define\s+(PH_\w+)", code, re.M)
    return members, macros


def roff_args(text):
    """A request's arguments: split at spaces, "double quotes" group."""
    return [m.group(1) if m.group(1) is not None else m.group(2)
            for m in re.finditer(r'"((?:[^"]|"")*)"?|(\S+)', text)]


def roff_text(line):
    """A man(7) line as it reads: request arguments joined the way the
    macro sets them, escapes resolved to plain characters."""
    if line.startswith("."):
        parts = line.split(None, 1)
        args = roff_args(parts[1]) if len(parts) > 1 else []
        line = ("" if parts[0] in ALTERNATING else " ").join(args)
    line = re.sub(r"\\f(?:\[[^]]*\]|\(..|.)", "", line)
    line = re.sub(r"\\\((lq|rq|dq)", '"', line)
    line = re.sub(r"\\\(..", " ", line)
    return line.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def page_lines():
    """(is_tag, text) for each line of the page that is not a comment."""
    out = []
    tag_next = False
    for raw in read(PAGE).splitlines():
        if raw.startswith(('.\\"', "'\\\"")):
            continue
        if raw.strip() in (".TP", ".TQ"):
            tag_next = True
            continue
        out.append((tag_next, roff_text(raw)))
        tag_next = False
    return out


def refs(text):
    """(structure tag, member) and macro names the text mentions."""
    prefix = {q: tag for tag, (q, _) in QUALIFIED.items()}
    members = set()
    for m in REF.finditer(text):
        members.add((prefix[m.group(1) or m.group(2)], m.group(3)))
    return members, set(MACRO.findall(text))


class PluginPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.members, cls.macros = header_names()
        cls.lines = page_lines()

    def test_header_parsed(self):
        # A parser that finds nothing would let every other check pass.
        self.assertIn("resume", self.members["ph_server_api"])
        self.assertIn("routes_visit", self.members["ph_server_api"])
        self.assertIn("reload_check", self.members["ph_hooks"])
        self.assertIn("hooks", self.members["ph_plugin"])
        self.assertIn("processes", self.members["ph_create_args"])
        self.assertIn("status", self.members["ph_route_info"])
        self.assertIn("PH_STREAM_WAIT", self.macros)
        self.assertIn("PH_PLUGIN_DEFINE_HOOKS", self.macros)
        self.assertGreater(len(self.members["ph_server_api"]), 60)

    def test_every_header_name_is_documented(self):
        tagged_members, tagged_macros = set(), set()
        for is_tag, text in self.lines:
            if is_tag:
                m, d = refs(text)
                tagged_members |= m
                tagged_macros |= d
        missing = []
        for tag, (qual, sep) in QUALIFIED.items():
            missing += ["%s%s%s (%s_t)" % (qual, sep, n, tag) for n in self.members[tag]
                        if (tag, n) not in tagged_members]
        missing += [d for d in self.macros if d not in tagged_macros]
        self.assertEqual(missing, [], "plugin.h declares these, plughttpd-plugin(3) has no entry for them")

    def test_every_documented_name_is_in_the_header(self):
        unknown = set()
        for _, text in self.lines:
            members, macros = refs(text)
            for tag, name in members:
                if name not in self.members[tag]:
                    qual, sep = QUALIFIED[tag]
                    unknown.add("%s%s%s" % (qual, sep, name))
            for d in macros:
                if d.endswith("_*"):
                    if not any(h.startswith(d[:-1]) for h in self.macros):
                        unknown.add(d)
                elif d not in self.macros:
                    unknown.add(d)
        self.assertEqual(sorted(unknown), [], "plughttpd-plugin(3) names these, plugin.h does not declare them")

    def test_other_structures_members_are_named(self):
        text = "\n".join(t for _, t in self.lines)
        missing = ["%s_t.%s" % (tag, n) for tag in NAMED_ONLY for n in self.members[tag]
                   if not re.search(r"\b%s\b" % re.escape(n), text)]
        self.assertEqual(missing, [], "plughttpd-plugin(3) never names these members")

    def test_abi_version_matches(self):
        code = read(HEADER)
        major = re.search(r"#define PH_ABI_MAJOR (\d+)u", code).group(1)
        minor = re.search(r"#define PH_ABI_MINOR (\d+)u", code).group(1)
        first = [t for _, t in self.lines if "plughttpd-plugin -" in t][0]
        self.assertIn("ABI %s.%s" % (major, minor), first)


def rendered_copy(tmp):
    """The page with its one placeholder filled, as make fills it."""
    path = os.path.join(tmp, "plughttpd-plugin.3")
    with open(path, "w", encoding="utf-8") as f:
        f.write(read(PAGE).replace("@VERSION@", "0.0.0"))
    return path


def groff_render(path):
    """groff with every warning on, output discarded: its exit and stderr."""
    return subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def man_render(path):
    """man(1) rendering the page file at 80 columns, warnings on."""
    return subprocess.run(["man", "--warnings", "-l", "-E", "UTF-8", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=dict(os.environ, MANWIDTH="80"),
                          timeout=60)


class Render(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="phdoc-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    @unittest.skipUnless(shutil.which("groff"), "groff not installed (.ci/deps installs groff-base)")
    def test_groff_renders_without_warnings(self):
        p = groff_render(rendered_copy(self.tmp))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")

    @unittest.skipUnless(shutil.which("man"), "man not installed (.ci/deps installs man-db)")
    def test_man_renders_without_warnings(self):
        p = man_render(rendered_copy(self.tmp))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assertIn("ASYNCHRONOUS ANSWERS", p.stdout)
        self.assertIn("api->stream_wake", p.stdout)


if __name__ == "__main__":
    harness.main()
