// End-to-end in headless Chromium (390×844): Search from the user app. On Discover the
// search bar takes "hesuan" (pinyin) and opens the search page, where the service is
// found with the characters the pinyin matched marked; typing "hes" offers 核酸检测 as
// a suggestion; picking it answers with the intent card, which opens the serving mini
// program in the container at the page it declared for the service. The operator then
// finds the searchers, the query log and the hot term on the console's search page.
//
// Usage: node search.mjs BASE_URL APPID USER_NAME SCREENSHOT_DIR
// Exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, appid, userName, screenshots] = process.argv.slice(2);
if (!base || !appid || !userName || !screenshots) {
  console.error("usage: node search.mjs BASE_URL APPID USER_NAME SCREENSHOT_DIR");
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
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const failures = [];
  page.on("pageerror", (error) => failures.push(error.message));

  // The bar atop Discover.
  await page.goto(base + "/app/discover");
  const bar = page.locator("#app-search-bar");
  check(await bar.isVisible(), "Discover shows the search bar");
  await bar.fill("hesuan");
  await bar.press("Enter");
  await page.waitForURL(/\/app\/search\?q=hesuan/);
  const marked = page.locator("#sr-hits-services mark").first();
  await marked.waitFor({ timeout: 10000 });
  check((await marked.textContent()) === "核酸", "pinyin found the service and marked 核酸: " + (await marked.textContent()));
  check((await page.inputValue("#sr-q")) === "hesuan", "the page's bar holds the query");
  await page.screenshot({ path: screenshots + "/search-pinyin.png" });

  // Suggestions as you type.
  await page.fill("#sr-q", "");
  await page.locator("#sr-q").pressSequentially("hes", { delay: 60 });
  const suggestion = page.locator("#sr-suggestions a", { hasText: "核酸检测" }).first();
  await suggestion.waitFor({ timeout: 10000 });
  const offered = await page.locator("#sr-suggestions a").allTextContents();
  check(offered.length > 0, "suggestions for hes: " + offered.join(" | "));
  await page.screenshot({ path: screenshots + "/search-suggestions.png" });
  await suggestion.click();
  await page.waitForURL(/\/app\/search\?q=/);
  check(decodeURIComponent(page.url()).includes("q=核酸检测"), "the suggestion searched 核酸检测: " + decodeURIComponent(page.url()));

  // The intent card.
  const card = page.locator("#sr-intent");
  await card.waitFor({ timeout: 10000 });
  check((await card.getAttribute("data-kind")) === "service", "the answer leads with the service card");
  check((await card.textContent()).includes("健康杭州"), "the card names the mini program serving it");
  await page.screenshot({ path: screenshots + "/search-intent.png" });

  // Trending before anything is typed.
  await page.goto(base + "/app/search");
  const hot = page.locator("#sr-hot-hour li", { hasText: "核酸检测" });
  check((await hot.count()) === 1, "核酸检测 is trending in the last hour");
  await page.screenshot({ path: screenshots + "/search-trending.png" });
  await page.goBack();

  // Opening the mini program at the service's page.
  await page.click("#sr-intent-open");
  if (page.url().includes("/signin")) {
    await page.click(`button[data-user="${userName}"]`);
  }
  await page.waitForURL(new RegExp(`/app/mp/${appid}/pages/about/about`));
  await page.locator("#mp-view").waitFor({ timeout: 20000 });
  check(true, "the container opened the mini program at pages/about/about");
  check(failures.length === 0, "no script errors: " + failures.join("; "));

  // The operator's page on a desktop.
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const console_ = await desk.newPage();
  await console_.goto(base + "/console/search");
  await console_.click(`button[data-operator="operator"]`);
  await console_.waitForURL(/\/console\/search$/);
  check(Number(await console_.textContent("#search-dau")) >= 3, "the console counts today's searchers");
  check((await console_.locator("#query-log tbody tr").count()) >= 3, "the query log lists the searches");
  check((await console_.locator("#hot-hour li", { hasText: "核酸检测" }).count()) === 1, "the console shows the hot term");
  await console_.screenshot({ path: screenshots + "/search-console.png", fullPage: true });
  console.log("all checks passed");
} finally {
  await browser.close();
}
