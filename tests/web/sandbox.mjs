// End-to-end in headless Chromium: the sandbox console. The operator signs in, sees the
// sandbox clock on the console, finds a notification the merchant's server refused,
// moves the clock to its next retry, replays it, fails to send a broken hand edit (and
// nothing is sent), sends a good one, advances the clock by an hour and to the next
// job, and sets a fault plan for the merchant.
//
// Usage: node sandbox.mjs BASE_URL MCHID SCREENSHOT_DIR
// Exits non-zero with a message on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, mchid, screenshots] = process.argv.slice(2);
if (!base || !mchid || !screenshots) {
  console.error("usage: node sandbox.mjs BASE_URL MCHID SCREENSHOT_DIR");
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

const clockMs = (text) => Date.parse(text.trim().replace(" ", "T") + "+08:00");

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(base + "/console/notifications");
  check(page.url().includes("/signin"), "the console asks to sign in first");
  await page.click(`button[data-operator="operator"]`);
  await page.waitForURL(/\/console\/notifications$/);

  // The clock is on the page; the refused notification is listed.
  const before = clockMs(await page.textContent("#clock-now"));
  check(Number.isFinite(before), "the sandbox clock is shown: " + (await page.textContent("#clock-now")));
  const row = page.locator("tr.notification").first();
  check((await row.textContent()).includes("TRANSACTION.SUCCESS"), "the payment's notification is listed");
  check((await row.locator(".status").textContent()) === "pending", "it is still pending");
  await page.screenshot({ path: screenshots + "/sandbox-notifications.png", fullPage: true });

  // Its page: one refused attempt, with the signed request.
  await row.locator("a").first().click();
  await page.waitForURL(/\/console\/notifications\/EV-/);
  const attempts = () => page.locator("#attempts li.attempt").count();
  check((await attempts()) === 1, "one attempt so far");
  check((await page.textContent("#attempts .answer")).includes("HTTP 500"), "the merchant answered 500");
  await page.click("#attempts summary");
  check((await page.textContent("#attempts pre.wire")).includes("Wechatpay-Signature"), "the exact signed request is shown");

  // Move the clock to the next retry: it runs, and the clock is at or past its time
  // (the page shows times to the second; wall time passes meanwhile, so only that holds).
  const nextTry = clockMs(await page.textContent("#next-try"));
  check(Number.isFinite(nextTry), "the next try's time is shown: " + (await page.textContent("#next-try")));
  await page.click("#next-retry");
  await page.waitForSelector("#notice");
  check((await attempts()) === 2, "the retry ran: two attempts");
  const afterRetry = clockMs(await page.textContent("#clock-now"));
  check(afterRetry >= nextTry, `the clock is at or past the retry's time (${afterRetry} >= ${nextTry})`);

  // Replay.
  await page.click("#replay");
  await page.waitForSelector("#notice");
  check((await attempts()) === 3, "replayed: three attempts");
  check((await page.locator("#attempts .trigger").first().textContent()) === "replay", "the newest attempt is the replay");

  // A broken edit is refused and sends nothing; a good one is signed and sent.
  const original = await page.inputValue("#resource-text");
  await page.fill("#resource-text", original.replace(/\}\s*$/, ""));
  await page.click("#send-edited");
  await page.waitForSelector("#notice.bad");
  check((await page.textContent("#notice")).includes("not valid JSON"), "a broken edit is refused: " + (await page.textContent("#notice")));
  check((await attempts()) === 3, "and nothing was sent");
  const edited = JSON.parse(original);
  edited.attach = "edited in the console";
  await page.fill("#resource-text", JSON.stringify(edited, null, 2));
  await page.click("#send-edited");
  await page.waitForSelector("#notice.good");
  check((await attempts()) === 4, "the edited notification was sent");
  check((await page.locator("#attempts .trigger").first().textContent()) === "edited", "recorded as edited");
  await page.screenshot({ path: screenshots + "/sandbox-notification.png", fullPage: true });

  // Time travel from the page.
  const beforeHour = clockMs(await page.textContent("#clock-now"));
  await page.click("#advance-hour");
  await page.waitForSelector("#notice.good");
  const afterHour = clockMs(await page.textContent("#clock-now"));
  // At least an hour on (wall time passes too, by however long the page took), and
  // not a day.
  check(afterHour - beforeHour >= 3600000 && afterHour - beforeHour < 86400000, `+1 hour moved the clock (+${afterHour - beforeHour} ms)`);
  check(page.url().includes("/console/notifications/EV-"), "and came back to the same page");
  check((await attempts()) >= 5, "the retries that came due ran");
  if (!(await page.isDisabled("#advance-next-job"))) {
    await page.click("#advance-next-job");
    await page.waitForSelector("#notice");
    check((await page.textContent("#notice")).includes("job(s) ran"), "to next job: " + (await page.textContent("#notice")));
  }

  // Faults for the merchant, from its console.
  await page.goto(base + "/console/notifications?mchid=" + mchid);
  await page.fill("#faults input[name=drop_first]", "2");
  await page.check("#faults input[name=duplicate]");
  await page.click("#save-faults");
  await page.waitForSelector("#notice.good");
  check((await page.inputValue("#faults input[name=drop_first]")) === "2", "the fault plan is saved");
  check(await page.isChecked("#faults input[name=duplicate]"), "with duplicates on");
  await page.fill("#rules-text", '[{"payment": "sometimes"}]');
  await page.click("#save-script");
  await page.waitForSelector("#notice.bad");
  check((await page.textContent("#notice")).includes("nothing was saved"), "a bad script is refused: " + (await page.textContent("#notice")));
  await page.fill("#rules-text", '[{"amount_ends_with": "03", "payment": "userpaying", "polls": 2}]');
  await page.click("#save-script");
  await page.waitForSelector("#notice.good");
  check((await page.inputValue("#rules-text")).includes("userpaying"), "the script is saved");
  await page.screenshot({ path: screenshots + "/sandbox-merchant.png", fullPage: true });

  // On a phone (390×844): the page keeps its width; wide tables scroll inside their card;
  // merchants are named, with the mchid beside.
  const phone = await (
    await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      storageState: await page.context().storageState(),
    })
  ).newPage();
  for (const path of ["/console/notifications", "/console/notifications?mchid=" + mchid]) {
    await phone.goto(base + path);
    const widths = await phone.evaluate(() => {
      const scroller = document.querySelector(".table-scroll");
      return {
        page: document.documentElement.scrollWidth,
        view: window.innerWidth,
        scrollerOuter: scroller.getBoundingClientRect().right,
        scrollerInner: scroller.scrollWidth,
        scrollerShown: scroller.clientWidth,
      };
    });
    check(widths.page <= 390 && widths.view <= 390, `${path}: the page fits the phone (${widths.page} ≤ 390)`);
    check(widths.scrollerOuter <= 390, `${path}: the table's card fits too`);
    check(widths.scrollerInner > widths.scrollerShown, `${path}: the table scrolls inside its card (${widths.scrollerInner} > ${widths.scrollerShown})`);
  }
  const merchantCell = phone.locator("tr.notification td:nth-child(3)").first();
  const cell = await merchantCell.textContent();
  check(cell.includes(mchid) && (await merchantCell.locator("a").textContent()) !== mchid, "the merchant is named, mchid beside: " + cell);
  await phone.screenshot({ path: screenshots + "/sandbox-phone.png", fullPage: true });
  await phone.locator(".table-scroll").first().evaluate((scroller) => {
    scroller.scrollIntoView();
    scroller.scrollLeft = scroller.scrollWidth;
  });
  await phone.screenshot({ path: screenshots + "/sandbox-phone-scrolled.png" });
  await phone.goto(base + (await phone.locator("tr.notification a").first().getAttribute("href")));
  const detailWidth = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(detailWidth <= 390, `a notification's page fits the phone (${detailWidth})`);
  check((await phone.textContent("#merchant-name")).length > 0, "and names its merchant");
  await phone.screenshot({ path: screenshots + "/sandbox-phone-notification.png", fullPage: true });
} finally {
  await browser.close();
}
console.log("all checks passed");
