// WeCom in headless Chromium with two people side by side: a customer scans a member's
// contact QR in the user app and adds them; the member finds the new customer in their
// Chats; the customer joins the member's customer group by its QR; both exchange
// messages live in both directions; the customer leaves the chat, the member writes
// twice, the customer comes back and sees what was missed, once; read receipts update.
//
// Usage: node wecom.mjs BASE_URL ADD_PATH JOIN_PATH STAFF_NAME CUSTOMER_NAME SCREENSHOT_DIR
// Exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, addPath, joinPath, staffName, customerName, screenshots] = process.argv.slice(2);
if (!screenshots) {
  console.error("usage: node wecom.mjs BASE_URL ADD_PATH JOIN_PATH STAFF_NAME CUSTOMER_NAME SCREENSHOT_DIR");
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

async function signIn(page, name) {
  if (page.url().includes("/signin")) {
    await page.click(`button[data-user="${name}"]`);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 };
  const customerContext = await browser.newContext(phone);
  const staffContext = await browser.newContext(phone);
  const customer = await customerContext.newPage();
  const staff = await staffContext.newPage();

  // The customer scans the member's contact QR and adds them.
  await customer.goto(base + addPath);
  await signIn(customer, customerName);
  await customer.waitForSelector("#add-contact");
  check((await customer.textContent(".wecom-card")).includes("张三"), "the contact page names the member");
  await customer.screenshot({ path: screenshots + "/wecom-add.png" });
  await customer.click("#add-contact");
  await customer.waitForURL(/\/app\/wecom\/chat\/d:/);
  await customer.waitForFunction(() => document.getElementById("chat-status").textContent === "");

  // The member sees the new customer in Chats and opens the chat.
  await staff.goto(base + "/app");
  await signIn(staff, staffName);
  await staff.waitForSelector(`a.chat[href*="/app/wecom/chat/d:"]`);
  check((await staff.textContent("#chats")).includes(customerName), "the member's Chats lists the new customer");
  await staff.screenshot({ path: screenshots + "/wecom-staff-chats.png" });

  // Both join the customer group: the customer by its QR, the member owns it.
  await customer.goto(base + joinPath);
  await customer.waitForSelector("#join-group");
  await customer.screenshot({ path: screenshots + "/wecom-join.png" });
  await customer.click("#join-group");
  await customer.waitForURL(/\/app\/wecom\/chat\/g:/);
  const groupUrl = customer.url();
  await customer.waitForFunction(() => document.getElementById("chat-status").textContent === "");
  await staff.goto(groupUrl);
  await staff.waitForFunction(() => document.getElementById("chat-status").textContent === "");

  // Live in both directions.
  await customer.fill("#chat-input", "请问这周末可以试驾吗？");
  await customer.click("#chat-send");
  await staff.waitForSelector("#messages li.theirs .bubble:has-text('请问这周末可以试驾吗？')");
  check(true, "the member sees the customer's message live");
  await staff.fill("#chat-input", "可以的，周六上午十点见");
  await staff.click("#chat-send");
  await customer.waitForSelector("#messages li.theirs .bubble:has-text('周六上午十点见')");
  check(true, "the customer sees the member's reply live");
  await staff.waitForSelector("#messages li.mine .receipt.read");
  check((await staff.textContent("#messages li.mine .receipt")).includes("1 人已读"), "the reply shows it was read by the customer");
  await staff.screenshot({ path: screenshots + "/wecom-group-staff.png" });
  await customer.screenshot({ path: screenshots + "/wecom-group-customer.png" });

  // The customer goes away; two messages wait; coming back shows them once, in order.
  await customer.goto(base + "/app");
  await staff.fill("#chat-input", "地址：星河汽车 4S 店");
  await staff.click("#chat-send");
  await staff.fill("#chat-input", "到了打我电话");
  await staff.click("#chat-send");
  await staff.waitForFunction(() => document.querySelectorAll("#messages li.mine:not(.pending)").length === 3);
  await customer.reload();
  await customer.waitForSelector(`a.chat[href*="/app/wecom/chat/g:"] .chat-unread`);
  check((await customer.textContent(`a.chat[href*="/app/wecom/chat/g:"] .chat-unread`)).trim() === "2", "Chats shows two unread");
  await customer.screenshot({ path: screenshots + "/wecom-customer-chats.png" });
  await customer.goto(groupUrl);
  await customer.waitForSelector("#messages li .bubble:has-text('到了打我电话')");
  await customer.waitForTimeout(300);
  const texts = await customer.$$eval("#messages li .bubble", (bubbles) => bubbles.map((b) => b.textContent));
  check(JSON.stringify(texts) === JSON.stringify(["请问这周末可以试驾吗？", "可以的，周六上午十点见", "地址：星河汽车 4S 店", "到了打我电话"]),
    "coming back shows every message once, in order: " + JSON.stringify(texts));
  await staff.waitForFunction(() => [...document.querySelectorAll("#messages li.mine .receipt")].every((r) => r.classList.contains("read")));
  check(true, "the member's receipts all turn read");
  await customer.screenshot({ path: screenshots + "/wecom-customer-back.png" });

  // The member's workbench: their QR, the customer, the group.
  await staff.goto(base + "/app/work");
  await staff.waitForSelector("#my-qr svg");
  check((await staff.textContent("#work-customers")).includes(customerName), "the workbench lists the customer");
  check((await staff.textContent("#work-groups")).includes("星河车友群"), "the workbench lists the customer group");
  // The member writes to the app from the workbench (the corp's server hears it).
  await staff.fill("form.to-app input[name=content]", "今天到店 3 组客户");
  await staff.click("form.to-app button");
  await staff.waitForFunction(() => document.querySelector(".to-app-status").textContent === "已发送 Sent");
  check(true, "the workbench sends a message to the app");
  await staff.screenshot({ path: screenshots + "/wecom-workbench.png", fullPage: true });
  console.log("all checks passed");
} finally {
  await browser.close();
}
