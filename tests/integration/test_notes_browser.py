#!/usr/bin/env python3
"""The notes page (www/notes.html) in headless Chromium, driven through
chromedriver with Selenium (Debian: chromium, chromium-driver,
python3-selenium): add a note, see it listed, reload, still there, delete
it, gone. The server serves the source tree's www/ and /api on a temporary
SQLite database.

Missing Chromium, chromedriver or Selenium is a failure, not a skip: CI
installs them."""

import os
import shutil
import sys
import tempfile
import unittest

import harness
from harness import Server, SRCDIR, server_ini

try:
    from selenium import webdriver
except ImportError:
    # Debian's python3-selenium lives in the system interpreter's
    # dist-packages; a python3 from elsewhere on PATH does not see it.
    sys.path.append("/usr/lib/python3/dist-packages")
    from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 20


def find(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    raise RuntimeError("none of %s found: install Debian's chromium and chromium-driver" % (names,))


class NotesPageTest(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(SRCDIR, "conf", "schema.sql")) as f:
            schema = f.read()
        routes = ("[route /]\nplugin = static\nroot = %s\n\n"
                  "[route /api]\nplugin = data\ndatabase = sqlite:data/notes.db\n"
                  "schema = schema.sql\ntables = notes\n" % os.path.join(SRCDIR, "www"))
        self.srv = Server(server_ini(routes=routes, threads=2), files={"schema.sql": schema})
        self.addCleanup(self.srv.stop)

        self.profile = tempfile.mkdtemp(prefix="phchrome-")
        self.addCleanup(shutil.rmtree, self.profile, True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = find("chromium", "chromium-browser")
        for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--user-data-dir=" + self.profile]:
            opts.add_argument(flag)
        service = Service(executable_path=find("chromedriver"))
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.addCleanup(self.driver.quit)
        self.driver.set_page_load_timeout(WAIT)
        self.wait = WebDriverWait(self.driver, WAIT)

    def titles(self):
        return [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, "#note-list li h3")]

    def wait_status(self, text):
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "note-status"), text))

    def test_add_reload_delete(self):
        d = self.driver
        d.get(self.srv.url("/notes.html"))
        self.wait_status("No notes yet.")
        self.assertEqual(self.titles(), [])

        d.find_element(By.ID, "note-title").send_keys("Buy <b>milk</b> & bread")
        d.find_element(By.ID, "note-body").send_keys("two litres")
        d.find_element(By.ID, "note-add").click()
        self.wait_status("1 note(s).")
        self.assertEqual(self.titles(), ["Buy <b>milk</b> & bread"])  # shown as text

        # The note is stored: the API has it, and a reload shows it again.
        r = self.srv.get("/api/notes", headers={"Prefer": "count=exact"})
        self.assertEqual(r.header("X-Total-Count"), "1")
        d.refresh()
        self.wait_status("1 note(s).")
        self.assertEqual(self.titles(), ["Buy <b>milk</b> & bread"])
        self.assertIn("two litres", d.find_element(By.ID, "note-list").text)

        d.find_element(By.CSS_SELECTOR, "#note-list li button.delete").click()
        self.wait_status("No notes yet.")
        self.assertEqual(self.titles(), [])
        self.assertEqual(self.srv.get("/api/notes", headers={"Prefer": "count=exact"}).header("X-Total-Count"), "0")
        d.refresh()
        self.wait_status("No notes yet.")
        self.assertEqual(self.titles(), [])


if __name__ == "__main__":
    harness.main()
