// End-to-end in headless Chromium: a user opens a collection code (收款码); a payer opens
// the code's page, types an amount, a note and the password, and pays; the owner's page,
// left open, shows the payment the moment it is made (server-sent events, no reload); the
// operator's console counts it.
//
// Usage: node collect.mjs BASE_URL ADMIN_TOKEN SCREENSHOT_DIR
// Exits non-zero with a message on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, adminToken, screenshots] = process.argv.slice(2);
if (!base || !adminToken || !screenshots) {
  console.error("usage: node collect.mjs BASE_URL ADMIN_TOKEN SCREENSHOT_DIR");
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

async function admin(path, body) {
  const reply = await fetch(base + path, {
    method: "POST",
    headers: { authorization: "Bearer " + adminToken, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  check(reply.status === 201, `POST ${path} answers 201 (${reply.status})`);
  return reply.json();
}

await admin("/api/v1/admin/users", { name: "Zhang San", password: "135790", balance: 100 });
await admin("/api/v1/admin/users", { name: "Bai Li", password: "246810", balance: 5000 });

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  // The owner signs in and opens a collection code.
  const owner = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
  await owner.goto(base + "/collect");
  check(owner.url().includes("/signin"), "the collection page asks to sign in first");
  await owner.click(`button[data-user="Zhang San"]`);
  await owner.waitForURL(/\/collect$/);
  await owner.fill("#code-name-input", "Zhang's Noodles");
  await owner.click("#open");
  await owner.waitForSelector(".collect-code .qr svg");
  check((await owner.textContent("#code-name")) === "Zhang's Noodles", "the code is open, with its QR code");
  await owner.waitForFunction(() => document.querySelector("#live").classList.contains("on"));
  check(true, "the page listens for payments");
  const payUrl = await owner.getAttribute("#pay-link", "href");
  check(payUrl.includes("/pay/collect/"), "the QR code points at the pay page " + payUrl);
  await owner.evaluate(() => (window.notReloaded = true));
  await owner.screenshot({ path: screenshots + "/collect-code.png", fullPage: true });

  // A payer opens the code's page, signs in, types an amount and a note, and pays.
  const payer = await (
    await browser.newContext({ viewport: { width: 420, height: 860 }, deviceScaleFactor: 2 })
  ).newPage();
  await payer.goto(payUrl);
  check(payer.url().includes("/signin"), "the pay page asks the payer to sign in");
  await payer.click(`button[data-user="Bai Li"]`);
  await payer.waitForURL(/\/pay\/collect\//);
  check((await payer.textContent("#merchant-name")) === "Zhang's Noodles", "the pay page names the collector");
  await payer.fill("#amount-input", "12.50");
  await payer.fill("#note", "牛肉面 two bowls");
  const boxes = payer.locator(".pin input");
  for (const [index, digit] of [..."246810"].entries()) {
    await boxes.nth(index).fill(digit);
  }
  check((await payer.textContent("#pay")) === "Pay ¥12.50", "the button says what will be paid");
  await payer.screenshot({ path: screenshots + "/collect-pay.png", fullPage: true });
  await payer.click("#pay");
  await payer.waitForSelector("#done:not([hidden])");
  check((await payer.textContent("#done .paid-amount")) === "¥12.50", "the payer sees ¥12.50 paid");
  check((await payer.textContent("#done .paid-balance")) === "¥37.50", "and ¥37.50 left");
  await payer.screenshot({ path: screenshots + "/collect-paid.png", fullPage: true });

  // The owner's page shows it at once, without a reload.
  await owner.waitForFunction(
    () => [...document.querySelectorAll("#received li")].some((li) => li.textContent.includes("+¥12.50")),
    null,
    { timeout: 10000 },
  );
  check(await owner.evaluate(() => window.notReloaded === true), "the owner's page received it live");
  const row = await owner.textContent("#received li");
  check(row.includes("牛肉面 two bowls") && row.includes("B**"), "with the note and the masked payer: " + row);
  await owner.waitForFunction(() => document.querySelector("#today-total").textContent === "¥12.50");
  check((await owner.textContent("#today-count")) === "1", "today's count is 1");
  check((await owner.textContent("#today-net")) === "¥12.45", "net of the 0.38% fee (5 fen)");
  await owner.screenshot({ path: screenshots + "/collect-received.png", fullPage: true });

  // The operator's console counts it under collection codes, as offline volume.
  const operator = await (await browser.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
  await operator.goto(base + "/console");
  check(operator.url().includes("/signin"), "the console asks to sign in first");
  await operator.click(`button[data-operator="operator"]`);
  await operator.waitForURL(/\/console$/);
  check(
    (await operator.textContent("#channel-collection_code .volume")) === "¥12.50",
    "the console shows the collection-code volume",
  );
  check((await operator.textContent("#offline-volume")) === "¥12.50", "as offline volume");
  check((await operator.textContent("#provider-share")) === "0.00%", "none of it through service providers");
  await operator.screenshot({ path: screenshots + "/console.png", fullPage: true });
  console.log("web collection code: all checks passed");
} finally {
  await browser.close();
}
