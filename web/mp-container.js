// The mini-program container: runs a package page in a sandboxed frame and answers its
// `wx.*` calls. The frame has an opaque origin; the only way it reaches this page is the
// MessageChannel port handed to it at each load, and every call that needs the user is
// carried out here, on Plaza's origin, with the user's session.

const root = document.getElementById('mp');
const appid = root.dataset.appid;
const appName = root.dataset.name;
const version = Number(root.dataset.version);
const base = root.dataset.base;
const pages = JSON.parse(root.dataset.pages);
const windowTitle = root.dataset.title || appName;
const extConfig = JSON.parse(root.dataset.ext || '{}');
const frame = document.getElementById('mp-view');
const layer = document.getElementById('mp-layer');
const tabbar = document.getElementById('mp-tabbar');
const heading = document.querySelector('.app-bar h1');
const backLink = document.getElementById('app-back');
const STACK_MAX = 10;

let stack = [{ page: root.dataset.page, query: root.dataset.query }];
let port = null;
let openedAt = Date.now();

// ---- calls to Plaza --------------------------------------------------------------

class Fail extends Error {
  constructor(errMsg) {
    super(errMsg);
    this.errMsg = errMsg;
  }
}

async function plaza(api, method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (error) {
    throw new Fail(`${api}:fail network error`);
  }
  if (response.status === 204) return {};
  let answer = {};
  try {
    answer = await response.json();
  } catch (error) {
    answer = {};
  }
  if (!response.ok) {
    if (answer.errMsg) throw new Fail(answer.errMsg);
    throw new Fail(`${api}:fail ${answer.message || response.statusText}`);
  }
  return answer;
}

const mp = (path) => `/api/v1/mp/${appid}/${path}`;

function visit(event, stayMs) {
  fetch(mp('visit'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event, stay_ms: stayMs || 0 }),
    credentials: 'same-origin',
    keepalive: true,
  }).catch(() => {});
}

// ---- pages and navigation --------------------------------------------------------

function splitUrl(url, from) {
  const [rawPath, query = ''] = String(url || '').split('?');
  let path = rawPath;
  if (!path.startsWith('/')) {
    const dir = from.split('/').slice(0, -1);
    for (const part of path.split('/')) {
      if (part === '..') dir.pop();
      else if (part !== '.' && part !== '') dir.push(part);
    }
    path = dir.join('/');
  }
  path = path.replace(/^\/+/, '').replace(/\.html$/, '');
  return { page: path, query };
}

function show() {
  const top = stack[stack.length - 1];
  frame.src = `${base}${top.page}.html${top.query ? `?${top.query}` : ''}`;
  const here = `/app/mp/${appid}/${top.page}${top.query ? `?${top.query}` : ''}`;
  history.replaceState({ depth: stack.length }, '', here);
  if (heading) heading.textContent = windowTitle;
  if (tabbar) {
    for (const tab of tabbar.querySelectorAll('.mp-tab')) {
      tab.classList.toggle('current', tab.dataset.page === top.page);
    }
  }
}

function navigate(api, url, how) {
  const target = splitUrl(url, stack[stack.length - 1].page);
  if (!pages.includes(target.page)) {
    throw new Fail(`${api}:fail page "${target.page}" is not found`);
  }
  if (how === 'push') {
    if (stack.length >= STACK_MAX) throw new Fail(`${api}:fail webview count limit exceed`);
    stack.push(target);
  } else if (how === 'replace') {
    stack[stack.length - 1] = target;
  } else {
    stack = [target];
  }
  visit('page');
  show();
  return { errMsg: `${api}:ok` };
}

function back(delta) {
  const steps = Math.max(1, Number(delta) || 1);
  if (stack.length <= 1) {
    leave();
    window.location.href = '/app/mp';
    return { errMsg: 'navigateBack:ok' };
  }
  stack = stack.slice(0, Math.max(1, stack.length - steps));
  show();
  return { errMsg: 'navigateBack:ok' };
}

if (backLink) {
  backLink.addEventListener('click', (event) => {
    event.preventDefault();
    back(1);
  });
}
if (tabbar) {
  tabbar.addEventListener('click', (event) => {
    const tab = event.target.closest('.mp-tab');
    if (tab) navigate('switchTab', `/${tab.dataset.page}`, 'reset');
  });
}

function leave() {
  if (openedAt) visit('leave', Date.now() - openedAt);
  openedAt = 0;
}
window.addEventListener('pagehide', leave);

// ---- sheets ----------------------------------------------------------------------

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function openLayer(html, kind) {
  layer.innerHTML = html;
  layer.className = `mp-layer ${kind}`;
  layer.hidden = false;
}

function closeLayer() {
  layer.hidden = true;
  layer.innerHTML = '';
}

let toastTimer = null;
function toast({ title = '', icon = 'success', duration = 1500 }) {
  const mark = icon === 'none' ? '' : `<span class="mp-toast-icon">${icon === 'error' ? '✕' : icon === 'loading' ? '…' : '✓'}</span>`;
  openLayer(`<div class="mp-toast" id="mp-toast" role="status">${mark}<span>${escapeHtml(title)}</span></div>`, 'toast');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(closeLayer, Math.min(Number(duration) || 1500, 10000));
  return { errMsg: 'showToast:ok' };
}

function sheet(html, wire) {
  return new Promise((resolve) => {
    openLayer(`<div class="mp-sheet" role="dialog" aria-modal="true">${html}</div>`, 'sheet');
    wire(layer.querySelector('.mp-sheet'), (value) => {
      closeLayer();
      resolve(value);
    });
  });
}

function modal({ title = '', content = '', showCancel = true, cancelText = '取消', confirmText = '确定' }) {
  return sheet(
    `<h2>${escapeHtml(title)}</h2><p>${escapeHtml(content)}</p><div class="mp-actions">` +
      (showCancel ? `<button type="button" class="secondary" id="mp-modal-cancel">${escapeHtml(cancelText)}</button>` : '') +
      `<button type="button" id="mp-modal-confirm">${escapeHtml(confirmText)}</button></div>`,
    (node, done) => {
      node.querySelector('#mp-modal-confirm').onclick = () => done({ confirm: true, cancel: false, errMsg: 'showModal:ok' });
      const cancel = node.querySelector('#mp-modal-cancel');
      if (cancel) cancel.onclick = () => done({ confirm: false, cancel: true, errMsg: 'showModal:ok' });
    },
  );
}

function yuan(fen) {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

async function requestPayment(args) {
  const order = await plaza('requestPayment', 'POST', mp('payment'), args);
  if (order.trade_state !== 'NOTPAY') {
    throw new Fail(`requestPayment:fail the order is ${order.trade_state}`);
  }
  return sheet(
    `<h2>${escapeHtml(order.merchant_name)}</h2><p class="muted">${escapeHtml(order.description)}</p>` +
      `<div class="mp-amount" id="mp-pay-amount">${yuan(order.total_minor)}</div>` +
      `<label for="mp-pay-password">请输入支付密码 Payment password</label>` +
      `<input id="mp-pay-password" type="password" inputmode="numeric" autocomplete="off" maxlength="6" pattern="[0-9]{6}">` +
      `<p class="mp-error" id="mp-pay-error" role="alert"></p>` +
      `<div class="mp-actions"><button type="button" class="secondary" id="mp-pay-cancel">取消 Cancel</button>` +
      `<button type="button" id="mp-pay-confirm">确认支付 Pay</button></div>`,
    (node, done) => {
      const input = node.querySelector('#mp-pay-password');
      const error = node.querySelector('#mp-pay-error');
      const confirm = node.querySelector('#mp-pay-confirm');
      input.focus();
      node.querySelector('#mp-pay-cancel').onclick = () => done({ errMsg: 'requestPayment:fail cancel', failed: true });
      confirm.onclick = async () => {
        if (!/^[0-9]{6}$/.test(input.value)) {
          error.textContent = '支付密码是6位数字 The password is six digits.';
          return;
        }
        confirm.disabled = true;
        try {
          await plaza('requestPayment', 'POST', '/api/v1/pay/confirm', { prepay_id: order.prepay_id, password: input.value });
          done({ errMsg: 'requestPayment:ok' });
        } catch (failure) {
          error.textContent = failure.errMsg.replace(/^requestPayment:fail /, '');
          input.value = '';
          confirm.disabled = false;
        }
      };
    },
  ).then((result) => {
    if (result.failed) throw new Fail(result.errMsg);
    return result;
  });
}

async function requestSubscribeMessage({ tmplIds = [] }) {
  const ids = Array.isArray(tmplIds) ? tmplIds.map(String) : [];
  if (ids.length === 0 || ids.length > 3) throw new Fail('requestSubscribeMessage:fail tmplIds: 1 to 3 templates');
  const { templates } = await plaza('requestSubscribeMessage', 'GET', mp(`templates?ids=${ids.map(encodeURIComponent).join(',')}`));
  if (templates.length !== ids.length) throw new Fail('requestSubscribeMessage:fail No template data return, verify the template id exist');
  const rows = templates
    .map((t) => `<label class="mp-consent"><input type="checkbox" checked data-id="${escapeHtml(t.id)}"><span>${escapeHtml(t.title)}</span></label>`)
    .join('');
  const accepted = await sheet(
    `<h2>${escapeHtml(appName)} 申请发送以下消息</h2><p class="muted">Allow this mini program to send you one of each:</p>${rows}` +
      `<div class="mp-actions"><button type="button" class="secondary" id="mp-consent-cancel">取消 Cancel</button>` +
      `<button type="button" id="mp-consent-allow">允许 Allow</button></div>`,
    (node, done) => {
      node.querySelector('#mp-consent-cancel').onclick = () => done([]);
      node.querySelector('#mp-consent-allow').onclick = () =>
        done([...node.querySelectorAll('input[type=checkbox]:checked')].map((box) => box.dataset.id));
    },
  );
  const accept = ids.filter((id) => accepted.includes(id));
  const reject = ids.filter((id) => !accepted.includes(id));
  return plaza('requestSubscribeMessage', 'POST', mp('subscribe'), { accept, reject });
}

async function getPhoneNumber() {
  const { phone } = await plaza('getPhoneNumber', 'GET', '/api/v1/me/phone');
  if (!phone) throw new Fail('getPhoneNumber:fail the user has no phone number');
  const masked = phone.length > 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : phone;
  const allowed = await sheet(
    `<h2>${escapeHtml(appName)} 申请获取你的手机号</h2><p class="mp-amount">${escapeHtml(masked)}</p>` +
      `<div class="mp-actions"><button type="button" class="secondary" id="mp-phone-deny">拒绝 Deny</button>` +
      `<button type="button" id="mp-phone-allow">允许 Allow</button></div>`,
    (node, done) => {
      node.querySelector('#mp-phone-deny').onclick = () => done(false);
      node.querySelector('#mp-phone-allow').onclick = () => done(true);
    },
  );
  if (!allowed) throw new Fail('getPhoneNumber:fail user deny');
  return plaza('getPhoneNumber', 'POST', mp('phone'), {});
}

// ---- wx.* ------------------------------------------------------------------------

function encodeForm(data) {
  return Object.entries(data || {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'object' ? JSON.stringify(v) : v)}`)
    .join('&');
}

async function request({ url, data, header = {}, method = 'GET', dataType = 'json' }) {
  const upper = String(method).toUpperCase();
  let target = String(url || '');
  let body;
  const headers = { ...header };
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type');
  if (upper === 'GET' && data && typeof data === 'object') {
    const query = encodeForm(data);
    if (query) target += (target.includes('?') ? '&' : '?') + query;
  } else if (data !== undefined && data !== null) {
    if (typeof data === 'string') body = data;
    else if (type && /x-www-form-urlencoded/i.test(type[1])) body = encodeForm(data);
    else {
      body = JSON.stringify(data);
      if (!type) headers['content-type'] = 'application/json';
    }
  }
  const answer = await plaza('request', 'POST', mp('request'), { url: target, method: upper, header: headers, body, version });
  let result = answer.data;
  if (dataType === 'json' && typeof result === 'string') {
    try {
      result = JSON.parse(result);
    } catch (error) {
      // Not JSON: WeChat hands the text over as it is.
    }
  }
  return { data: result, statusCode: answer.statusCode, header: answer.header, errMsg: 'request:ok' };
}

let adShown = null;

// A banner ad above the tab bar: its impression is reported when it is shown, its click
// when tapped (each counted once by Plaza); a tap opens the advertiser's link.
async function showBannerAd({ adUnitId }) {
  const ad = await plaza('showBannerAd', 'POST', mp('ad'), { adUnitId: String(adUnitId || '') });
  if (adShown) adShown.remove();
  const banner = document.createElement('div');
  banner.className = 'mp-ad';
  banner.id = 'mp-ad';
  banner.innerHTML =
    `<span class="mp-ad-label">广告 Ad</span><button type="button" class="mp-ad-body" id="mp-ad-open">` +
    `<strong>${escapeHtml(ad.title)}</strong><span>${escapeHtml(ad.text)}</span></button>` +
    `<button type="button" class="mp-ad-close" id="mp-ad-close" aria-label="Close">×</button>`;
  root.insertBefore(banner, tabbar || layer);
  adShown = banner;
  await plaza('showBannerAd', 'POST', mp('ad/event'), { token: ad.token, event: 'impression' });
  banner.querySelector('#mp-ad-close').onclick = () => {
    banner.remove();
    adShown = null;
  };
  banner.querySelector('#mp-ad-open').onclick = async () => {
    try {
      await plaza('showBannerAd', 'POST', mp('ad/event'), { token: ad.token, event: 'click' });
    } finally {
      if (ad.link.startsWith('/app/mp/')) window.location.href = ad.link;
      else window.open(ad.link, '_blank', 'noopener');
    }
  };
  return { errMsg: 'showBannerAd:ok' };
}

const apis = {
  showBannerAd,
  login: () => plaza('login', 'POST', mp('login'), {}),
  checkSession: () => plaza('checkSession', 'POST', mp('check-session'), {}),
  request,
  requestPayment,
  requestSubscribeMessage,
  getPhoneNumber,
  getUserProfile: () => plaza('getUserProfile', 'POST', mp('profile'), {}),
  setStorage: ({ key, data }) => plaza('setStorage', 'POST', mp('storage'), { op: 'set', key: String(key), data: JSON.stringify(data === undefined ? null : data) }),
  getStorage: async ({ key }) => {
    const answer = await plaza('getStorage', 'POST', mp('storage'), { op: 'get', key: String(key) });
    return { data: JSON.parse(answer.data), errMsg: 'getStorage:ok' };
  },
  removeStorage: ({ key }) => plaza('removeStorage', 'POST', mp('storage'), { op: 'remove', key: String(key) }),
  showToast: toast,
  hideToast: () => {
    closeLayer();
    return { errMsg: 'hideToast:ok' };
  },
  showLoading: ({ title = '加载中' }) => {
    openLayer(`<div class="mp-toast" id="mp-loading" role="status"><span class="mp-spinner"></span><span>${escapeHtml(title)}</span></div>`, 'toast');
    return { errMsg: 'showLoading:ok' };
  },
  hideLoading: () => {
    closeLayer();
    return { errMsg: 'hideLoading:ok' };
  },
  showModal: modal,
  navigateTo: ({ url }) => navigate('navigateTo', url, 'push'),
  redirectTo: ({ url }) => navigate('redirectTo', url, 'replace'),
  switchTab: ({ url }) => navigate('switchTab', url, 'reset'),
  reLaunch: ({ url }) => navigate('reLaunch', url, 'reset'),
  navigateBack: ({ delta }) => back(delta),
  getSystemInfo: () => ({
    brand: 'Plaza',
    model: 'Plaza container',
    pixelRatio: window.devicePixelRatio || 1,
    screenWidth: window.screen.width,
    screenHeight: window.screen.height,
    windowWidth: frame.clientWidth,
    windowHeight: frame.clientHeight,
    language: navigator.language || 'zh_CN',
    version: '8.0.0',
    system: navigator.platform || 'web',
    platform: 'plaza',
    SDKVersion: '3.0.0',
    errMsg: 'getSystemInfo:ok',
  }),
};

async function handle(message) {
  const { id, api, args } = message || {};
  const reply = (failed, result) => port && port.postMessage({ id, failed, result });
  const run = apis[api];
  if (!run) {
    reply(true, { errMsg: `${api}:fail not supported` });
    return;
  }
  try {
    reply(false, await run(args || {}));
  } catch (error) {
    reply(true, { errMsg: error.errMsg || `${api}:fail ${error.message}` });
  }
}

frame.addEventListener('load', () => {
  const channel = new MessageChannel();
  port = channel.port1;
  port.onmessage = (event) => handle(event.data);
  const top = stack[stack.length - 1];
  frame.contentWindow.postMessage(
    { plaza: 'port', appid, path: top.page, query: top.query, version, ext: extConfig },
    '*',
    [channel.port2],
  );
});

visit('open');
show();
