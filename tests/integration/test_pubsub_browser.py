#!/usr/bin/env python3
"""The live events page (www/events.html) in headless Chromium, driven
through chromedriver with Selenium (Debian: chromium, chromium-driver,
python3-selenium, installed by .ci/deps). The real server serves the
source tree's www/ and the pubsub plugin at /events on an ephemeral port;
the page subscribes with an EventSource, Python publishes over HTTP, and
the message's text must appear in the page. The page's own form publishes
too.

Skipped, saying why, only when Chromium itself is absent; a missing
chromedriver or Selenium next to it is a failure."""

import json
import os
import shutil
import sys
import tempfile
import unittest

import harness
from harness import Server, SRCDIR, server_ini

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WAIT = 20 * (10 if harness.WRAPPER else 1)

if CHROMIUM:
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


@unittest.skipUnless(CHROMIUM, "chromium is not installed (Debian package chromium; .ci/deps installs it)")
class EventsPageTest(unittest.TestCase):
    def setUp(self):
        routes = ("[route /]\nplugin = static\nroot = %s\n\n"
                  "[route /events]\nplugin = pubsub\n" % os.path.join(SRCDIR, "www"))
        self.srv = Server(server_ini(routes=routes, threads=2))
        self.addCleanup(self.srv.stop)

        driver = shutil.which("chromedriver")
        if driver is None:
            self.fail("chromium is installed but chromedriver is not: install Debian's chromium-driver")
        self.profile = tempfile.mkdtemp(prefix="phchrome-")
        self.addCleanup(shutil.rmtree, self.profile, True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses
        # to start
        for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--user-data-dir=" + self.profile]:
            opts.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
        self.addCleanup(self.driver.quit)
        self.driver.set_page_load_timeout(WAIT)
        self.wait = WebDriverWait(self.driver, WAIT)

    def subscribers(self, channel):
        r = self.srv.get("/events/" + channel, headers={"Accept": "application/json"})
        return json.loads(r.body).get("subscribers", 0) if r.status == 200 else 0

    def shown(self):
        return [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, "#ev-list li span")]

    def test_published_messages_appear_live(self):
        d = self.driver
        d.get(self.srv.url("/events.html#room-1"))
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "ev-status"), "Subscribed to room-1."))
        # the EventSource is counted before Python publishes
        self.wait.until(lambda _: self.subscribers("room-1") == 1)

        r = self.srv.get("/events/room-1", method="POST", body=b"hello <b>browser</b> & friends",
                         headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 201, r.body)
        self.wait.until(lambda _: self.shown() == ["hello <b>browser</b> & friends"])
        # inserted as text: no element was made of the markup
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, "#ev-list b"), [])
        self.assertEqual(d.find_element(By.CSS_SELECTOR, "#ev-list li").get_attribute("data-id"), "1")

        # two lines in one message come back as two lines
        self.srv.get("/events/room-1", method="POST", body=b"line one\nline two")
        self.wait.until(lambda _: len(self.shown()) == 2)
        self.assertEqual(self.shown()[0], "line one\nline two")

        # the page's own form publishes, and the page sees it
        d.find_element(By.ID, "ev-text").send_keys("from the form")
        d.find_element(By.ID, "ev-publish").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "ev-published"),
                                                         "Published #3 to 1 subscriber(s)."))
        self.wait.until(lambda _: self.shown()[:1] == ["from the form"])


if __name__ == "__main__":
    harness.main()
