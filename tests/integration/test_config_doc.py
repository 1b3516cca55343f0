#!/usr/bin/env python3
"""server.ini(5) documents every section and key of conf/reference.ini.

The keys are taken from reference.ini itself (commented-out examples such as
"; user = www-data" included), so the page cannot drift from it unseen:

- each key of [server] is the tag of a .TP entry under THE SERVER SECTION;
- each route key (the ones reference.ini says are not handed to the plugin)
  is a tag under ROUTE SECTIONS, and each other key of a [route] section is
  a tag under "The PLUGIN plugin" of the plugin the section mounts;
- each key of [tls] and of [certificate NAME] is a tag under their own
  subsections;
- every tag of those parts names a key reference.ini has there;
- groff (and man, where installed) render the page with every warning on
  and print none.
"""

import os
import re
import shutil
import tempfile
import unittest

import harness
from test_plugin_doc import groff_render, man_render, roff_text

REFERENCE = os.path.join(harness.SRCDIR, "conf", "reference.ini")
PAGE = os.path.join(harness.SRCDIR, "man", "server.ini.5.in")

SECTION = re.compile(r"^[;#]?\s*\[([^\]]+)\]\s*$")
KEY = re.compile(r"^[;#]?\s*([a-z][a-z0-9_]*) = ")
# The page's part for each kind of section.
HEADINGS = {"server": "THE SERVER SECTION", "route": "ROUTE SECTIONS", "tls": "The [tls] section",
            "certificate": "[certificate NAME] sections"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def reference():
    """{part: set of keys}: part is server, route, tls, certificate or a
    plugin's name; and the route keys reference.ini names."""
    text = read(REFERENCE)
    m = re.search(r"Every key but (.*?) is handed", text, re.S)
    if m is None:
        raise AssertionError("reference.ini no longer says which route keys are not the plugin's")
    route_keys = set(re.findall(r"[a-z_]+", re.sub(r"[;#\n]", " ", m.group(1)).replace(" and ", " ")))
    parts, part, plugin_keys = {}, None, []
    for line in text.splitlines():
        s = SECTION.match(line)
        if s:
            name = s.group(1).split()[0]
            part = name if name in ("server", "tls", "certificate") else "route"
            plugin_keys = []
            continue
        k = KEY.match(line)
        if not k or part is None:
            continue
        key = k.group(1)
        if part == "route":
            if key == "plugin":
                plugin = line.split("=", 1)[1].split(";")[0].strip()
                for pk in plugin_keys:
                    parts.setdefault(plugin, set()).add(pk)
                plugin_keys = None
                part_plugin = plugin
            if key in route_keys:
                parts.setdefault("route", set()).add(key)
            elif plugin_keys is None:
                parts.setdefault(part_plugin, set()).add(key)
            else:
                plugin_keys.append(key)
        else:
            parts.setdefault(part, set()).add(key)
    return parts, route_keys


def page_parts():
    """{heading: set of .TP tags' first words} for each .SH and .SS."""
    parts, heading, tag_next = {}, None, False
    for raw in read(PAGE).splitlines():
        if raw.startswith(('.\\"', "'\\\"")):
            continue
        if raw.startswith((".SH ", ".SS ")):
            heading = roff_text(raw).strip()
            parts.setdefault(heading, set())
            continue
        if raw.strip() in (".TP", ".TQ"):
            tag_next = True
            continue
        if tag_next and heading is not None:
            words = roff_text(raw).split()
            if words:
                parts[heading].add(words[0])
        tag_next = False
    return parts


def heading_of(part):
    return HEADINGS.get(part, "The %s plugin" % part)


class ConfigPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ref, cls.route_keys = reference()
        cls.page = page_parts()

    def test_reference_parsed(self):
        # A parser that finds nothing would let every other check pass.
        self.assertEqual(self.route_keys,
                         {"plugin", "blocking", "coroutine", "coroutine_stack", "max_body_bytes", "body_spill"})
        for part in ("server", "route", "echo", "static", "proxy", "data", "pubsub", "tls", "certificate"):
            self.assertIn(part, self.ref)
        self.assertIn("user", self.ref["server"])
        self.assertIn("show_credentials", self.ref["echo"])
        self.assertIn("trusted_proxies", self.ref["proxy"])
        self.assertIn("ticket_key_file", self.ref["tls"])
        self.assertIn("hosts", self.ref["certificate"])
        self.assertGreater(len(self.ref["server"]), 25)

    def test_every_reference_key_is_documented(self):
        missing = []
        for part, keys in sorted(self.ref.items()):
            heading = heading_of(part)
            if heading not in self.page:
                missing.append("no part %r for %s's keys" % (heading, part))
                continue
            missing += ["%s: %s" % (heading, k) for k in sorted(keys - self.page[heading])]
        self.assertEqual(missing, [], "reference.ini has these keys, server.ini(5) has no entry for them")

    def test_every_documented_key_is_in_the_reference(self):
        unknown = []
        for part, keys in sorted(self.ref.items()):
            heading = heading_of(part)
            unknown += ["%s: %s" % (heading, k) for k in sorted(self.page.get(heading, set()) - keys)]
        self.assertEqual(unknown, [], "server.ini(5) documents these keys, reference.ini does not have them")


def rendered_copy(tmp):
    """The page with its placeholders filled, as make fills them."""
    path = os.path.join(tmp, "server.ini.5")
    text = read(PAGE)
    for name, value in (("VERSION", "0.0.0"), ("sysconfdir", "/etc"), ("plugindir", "/usr/lib/plughttpd/plugins")):
        text = text.replace("@%s@" % name, value)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class Render(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="phdoc-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_no_placeholder_left(self):
        with open(rendered_copy(self.tmp), encoding="utf-8") as f:
            self.assertIsNone(re.search(r"@[A-Za-z_]+@", f.read()))

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
        self.assertIn("THE SERVER SECTION", p.stdout)
        self.assertIn("max_keepalive_requests", p.stdout)


if __name__ == "__main__":
    harness.main()
