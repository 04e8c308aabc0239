"""Drives headless Chromium through Depot's dashboard, as a release manager would.

Usage: dashboard_flow.py BASE_URL RELEASE_TOKEN REVIEWER_TOKEN

The repository (set up by the calling test) lists tern 1.0-1 in staging, pending for
production (which requires one approval), and gull in production rolling out at 25%. Each
step checks what the browser shows; the calling test then checks the repository itself.
Prints one line per step passed; exits non-zero at the first failure.
"""

import http.server
import sys
import threading
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

started = time.monotonic()
base, release_token, reviewer_token = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]

options = webdriver.ChromeOptions()
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]:
    options.add_argument(argument)
service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver")
browser = webdriver.Chrome(options=options, service=service)
browser.set_page_load_timeout(30)


def step(name, condition, detail=""):
    if not condition:
        print(f"FAILED {name}: {detail}\n--- page ---\n{browser.page_source[:4000]}", file=sys.stderr)
        browser.quit()
        sys.exit(1)
    print(f"ok {name} {time.monotonic() - started:.1f}s")


def text():
    return browser.find_element(By.TAG_NAME, "body").text


def form(action, package, distribution):
    selector = (
        f'form[data-action="{action}"][data-package="{package}"][data-distribution="{distribution}"]'
    )
    forms = browser.find_elements(By.CSS_SELECTOR, selector)
    step(f"the page has a {action} form for {package} in {distribution}", len(forms) >= 1, selector)
    return forms[0]


def click_and_wait(button):
    """Clicks a button that submits a form, and waits until the answer's page has loaded: the
    old page's window carries a mark the new one lacks."""
    browser.execute_script("window.depotOldPage = true")
    button.click()

    def loaded(driver):
        return driver.execute_script("return !window.depotOldPage && document.readyState === 'complete'")

    WebDriverWait(browser, 15, ignored_exceptions=[WebDriverException]).until(loaded)


def submit(form_element, note=None, button_text=None):
    if note is not None:
        field = form_element.find_element(By.NAME, "note")
        field.clear()
        field.send_keys(note)
    buttons = form_element.find_elements(By.TAG_NAME, "button")
    if button_text is not None:
        buttons = [button for button in buttons if button.text.startswith(button_text)]
    click_and_wait(buttons[0])


def sign_in(token):
    browser.get(base + "/login")
    browser.find_element(By.NAME, "token").send_keys(token)
    click_and_wait(browser.find_element(By.CSS_SELECTOR, "#sign-in button"))


try:
    # The dashboard is private: a browser without a session is sent to sign in.
    browser.get(base + "/")
    step("a private dashboard sends to /login", browser.current_url.endswith("/login"), browser.current_url)
    sign_in("depot_not-a-token")
    step("an unknown token is refused", "Unknown or revoked token" in text())

    # A forged session cookie is no session.
    browser.add_cookie({"name": "depot_session", "value": "forged-session-value", "path": "/"})
    browser.get(base + "/")
    step("a forged session cookie is no session", browser.current_url.endswith("/login"), browser.current_url)

    # The reviewer approves, with a note that tries to be markup.
    sign_in(reviewer_token)
    step("signing in shows the dashboard", "Signed in as reviewer" in text(), text()[:300])
    cookie = browser.get_cookie("depot_session")
    step("the session cookie is HttpOnly and SameSite=Strict",
         cookie is not None and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict", str(cookie))
    submit(form("approve", "tern", "production"), note="<script>alert('x')</script> soaked fine")
    step("the approval is recorded", "reviewer approved tern 1.0-1 for production" in text(), text())

    # The reviewer's token lacks promote:production: the dashboard says so.
    browser.get(base + "/")
    submit(form("promote", "tern", "production"), note="not mine to ship")
    step("a promotion the token may not make is refused",
         "lacks the scope promote:production" in text(), text())

    browser.get(base + "/")
    click_and_wait(browser.find_element(By.CSS_SELECTOR, "#sign-out button"))
    step("signing out ends the session", browser.current_url.endswith("/login"), browser.current_url)
    browser.get(base + "/")
    step("after signing out the dashboard asks to sign in again", browser.current_url.endswith("/login"))

    # The release manager promotes with a note: first what would change, then the promotion.
    sign_in(release_token)
    submit(form("promote", "tern", "production"), note="ship it")
    step("the promotion is shown before it is made",
         "tern (amd64): absent → 1.0-1" in text() and "has 1 of the 1 approval" in text(), text())
    submit(form("promote", "tern", "production"), button_text="Promote")
    step("the promotion is made", "Promoted tern 1.0-1 (amd64) from staging to production" in text(), text())

    # Halt the rollout of gull.
    browser.get(base + "/")
    step("the dashboard shows gull's rollout", "rolling out: 25%" in text(), text())
    submit(form("phase", "gull", "production"), button_text="Halt")
    step("the rollout is halted", "gull 1.0-1 in production: 25% → 0%" in text(), text())

    # A rollback the token may not make is refused.
    browser.get(base + "/")
    submit(form("rollback", "gull", "production"), button_text="Roll back")
    step("a rollback the token may not make is refused", "lacks the scope rollback:production" in text(), text())

    # The package page: when tern entered each distribution, who did it with which note, its approval.
    browser.get(base + "/packages/tern")
    page = text()
    step("the package page shows the promotion with its user and note",
         "entered (promote)" in page and "release" in page and "ship it" in page, page)
    step("the package page shows the approval", "for production by reviewer" in page, page)
    step("the note is shown as text, not run",
         "<script>alert('x')</script> soaked fine" in page
         and "<script>alert" not in browser.page_source, browser.page_source[:2000])
    try:
        browser.switch_to.alert
        step("no script from a note ran", False, "an alert is open")
    except NoAlertPresentException:
        step("no script from a note ran", True)

    # A page of another origin posts a form to the dashboard with the browser's cookie, but
    # without the session's CSRF token: refused.
    attack = f"""<!DOCTYPE html><html><body>
    <form id="f" method="post" action="{base}/actions/phase">
    <input name="package" value="gull"><input name="distribution" value="production">
    <input name="percentage" value="100"></form>
    <script>document.getElementById('f').submit()</script></body></html>""".encode()

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(attack)))
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, *arguments):
            pass

    # Threads, so that a connection Chrome opens ahead and leaves idle holds nothing up.
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    attacker.daemon_threads = True
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    browser.get(f"http://127.0.0.1:{attacker.server_address[1]}/")
    for _ in range(50):
        if browser.current_url.startswith(base):
            break
        time.sleep(0.1)
    step("a form posted from another origin is refused",
         browser.current_url.startswith(base) and "Refused" in text() and "25% → 0%" not in text(), text())
    attacker.shutdown()
    print("passed")
finally:
    browser.quit()
