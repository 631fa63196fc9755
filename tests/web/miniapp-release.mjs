// End-to-end in headless Chromium: a developer uploads a new version in the developer
// console, submits it, the operator approves it on the review page, the developer
// releases it, and a user opening the mini program sees the new version.
//
// Usage: node miniapp-release.mjs BASE_URL APPID PACKAGE_ZIP DEVELOPER USER SCREENSHOT_DIR
// Exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, appid, zip, developerName, userName, screenshots] = process.argv.slice(2);
if (!screenshots) {
  console.error("usage: node miniapp-release.mjs BASE_URL APPID PACKAGE_ZIP DEVELOPER USER SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(screenshots, { recursive: true });

function check(condition, message) {
  if (!condition) {
    console.error("FAILED: " + message);
    process.exit(1);
  }
  console.log("ok: " + message);
}

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  const desk = { viewport: { width: 1280, height: 900 } };
  // The developer uploads and submits.
  const developer = await (await browser.newContext(desk)).newPage();
  await developer.goto(`${base}/signin?next=/developer/apps/${appid}`);
  await developer.click(`button[data-developer="${developerName}"]`);
  await developer.waitForURL(/\/developer\/apps\//);
  await developer.setInputFiles("#package", zip);
  await developer.fill("#user-version", "2.0.0");
  await developer.click("#upload-package");
  await developer.waitForURL(/ok=/);
  check((await developer.textContent("#notice")).includes("Uploaded as v2"), "the console uploads the package as v2");
  await developer.click("#submit-2");
  await developer.waitForURL(/ok=/);
  check((await developer.textContent("#notice")).includes("submitted for review"), "v2 is submitted");
  await developer.screenshot({ path: screenshots + "/miniapp-console-submitted.png", fullPage: true });

  // The operator approves.
  const operator = await (await browser.newContext(desk)).newPage();
  await operator.goto(`${base}/signin?next=/console/miniapps/reviews`);
  await operator.click("button[data-operator]");
  await operator.waitForURL(/\/console\/miniapps\/reviews/);
  check((await operator.textContent(`#review-${appid}`)).includes("2.0.0"), "the review page shows v2");
  await operator.screenshot({ path: screenshots + "/miniapp-console-review.png", fullPage: true });
  await operator.click(`#approve-${appid}`);
  await operator.waitForURL(/ok=/);
  check((await operator.textContent("#notice")).includes("Approved"), "the operator approves");

  // The developer releases.
  await developer.goto(`${base}/developer/apps/${appid}`);
  await developer.click("#release");
  await developer.waitForURL(/ok=/);
  check((await developer.textContent("#notice")).includes("Released v2"), "v2 is released");

  // A user sees it.
  const user = await (await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 })).newPage();
  await user.goto(`${base}/app/mp/${appid}`);
  await user.click(`button[data-user="${userName}"]`);
  await user.waitForURL(/\/app\/mp\//);
  await user.frameLocator("#mp-view").locator("h1").filter({ hasText: "second release" }).waitFor();
  check(true, "the user runs the new version");
  await user.screenshot({ path: screenshots + "/miniapp-new-release.png" });
  console.log("web miniapp release: all checks passed");
} finally {
  await browser.close();
}
