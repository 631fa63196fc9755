// wx.js — the `wx` object for mini-program pages running in Plaza's container.
// Include it in each page: <script src="/mp/wx.js"></script>
//
// Every call works in both styles WeChat's do:
//   wx.login({ success(res) { … }, fail(err) { … }, complete() { … } })
//   const res = await wx.login()
// A failure rejects (or calls `fail`) with { errMsg: "<api>:fail <reason>" }.
// The page runs in a sandboxed frame: it reaches the container only through the port
// the container hands it, so calls made before that are queued.
(function () {
  'use strict';
  var port = null;
  var queue = [];
  var pending = {};
  var next = 1;
  var launch = { path: '', query: {} };
  var ext = {};

  function parseQuery(text) {
    var query = {};
    String(text || '').split('&').forEach(function (pair) {
      if (!pair) return;
      var at = pair.indexOf('=');
      var name = decodeURIComponent(at < 0 ? pair : pair.slice(0, at));
      query[name] = at < 0 ? '' : decodeURIComponent(pair.slice(at + 1).replace(/\+/g, ' '));
    });
    return query;
  }

  window.addEventListener('message', function (event) {
    var data = event.data;
    if (!data || data.plaza !== 'port' || !event.ports || !event.ports[0]) return;
    port = event.ports[0];
    launch = { path: data.path, query: parseQuery(data.query), appid: data.appid, version: data.version };
    ext = data.ext || {};
    port.onmessage = function (reply) {
      var answer = reply.data || {};
      var waiting = pending[answer.id];
      if (!waiting) return;
      delete pending[answer.id];
      if (answer.failed) waiting.reject(answer.result);
      else waiting.resolve(answer.result);
    };
    queue.splice(0).forEach(function (message) { port.postMessage(message); });
  });

  // Only data crosses to the container: functions (callbacks) stay here.
  function plain(options) {
    var out = {};
    Object.keys(options || {}).forEach(function (key) {
      if (typeof options[key] !== 'function') out[key] = options[key];
    });
    return JSON.parse(JSON.stringify(out));
  }

  function call(api, options) {
    return new Promise(function (resolve, reject) {
      var id = next++;
      pending[id] = { resolve: resolve, reject: reject };
      var message = { id: id, api: api, args: plain(options) };
      if (port) port.postMessage(message);
      else queue.push(message);
    });
  }

  function api(name) {
    return function (options) {
      options = options || {};
      var promise = call(name, options);
      var callbacks = options.success || options.fail || options.complete;
      promise.then(function (result) {
        if (options.success) options.success(result);
        if (options.complete) options.complete(result);
      }, function (error) {
        if (options.fail) options.fail(error);
        if (options.complete) options.complete(error);
      });
      if (callbacks) {
        promise.catch(function () {});
        return undefined;
      }
      return promise;
    };
  }

  var wx = {};
  [
    'login', 'checkSession', 'request', 'requestPayment', 'requestSubscribeMessage',
    'getPhoneNumber', 'getUserProfile', 'setStorage', 'getStorage', 'removeStorage',
    'showToast', 'hideToast', 'showModal', 'showLoading', 'hideLoading',
    'navigateTo', 'redirectTo', 'navigateBack', 'switchTab', 'reLaunch', 'getSystemInfo',
    'showBannerAd'
  ].forEach(function (name) { wx[name] = api(name); });

  /** The app's ext config (set by its developer), once the container answered. */
  wx.getExtConfigSync = function () { return { extConfig: ext }; };
  /** The page's path and query, as the container opened it. */
  wx.getLaunchOptionsSync = function () { return launch; };
  /** Resolves once the container answered: the page's path and query. */
  wx.ready = new Promise(function (resolve) {
    var timer = setInterval(function () {
      if (port) { clearInterval(timer); resolve(launch); }
    }, 10);
  });
  window.wx = wx;
})();
