// sesame landing page: shows the token carried by the link that opened it.
//
// It makes no request of its own (the Content-Security-Policy forbids any), stores
// nothing, and inserts text only with textContent, so nothing in the address can become
// markup or script. Reading the token follows docs/token-format.md, "Text form".
'use strict';

(function () {
  var DEFAULT_PARAM = 'sesame';
  var MAX_INPUT = 2048;
  var TOKEN_RE = /^SSM1[0-9A-HJKMNP-TV-Z]{56}$/;
  var GROUP = 4;

  // The admin may rename the link parameter (the module's `param` option) in
  // <meta name="sesame-param">; anything unusable falls back to the default.
  function paramName() {
    var meta = document.querySelector('meta[name="sesame-param"]');
    var name = meta ? (meta.getAttribute('content') || '').trim() : '';
    return /^[A-Za-z0-9._~-]{1,64}$/.test(name) ? name : DEFAULT_PARAM;
  }

  // Percent-decoding as the module does it: '+' is a space; a bad escape, a byte
  // sequence that is not UTF-8, or a NUL makes the value unreadable (null).
  function decodeComponent(text) {
    var decoded;
    try {
      decoded = decodeURIComponent(text.replace(/\+/g, ' '));
    } catch (e) {
      return null;
    }
    return decoded.indexOf('\u0000') === -1 ? decoded : null;
  }

  // The query and the fragment together, split on '&' and ';'.
  function splitParams(part) {
    return part === '' ? [] : part.split(/[&;]/);
  }

  function keyOf(piece) {
    var eq = piece.indexOf('=');
    return decodeComponent(eq === -1 ? piece : piece.slice(0, eq));
  }

  // The raw value of the parameter, or null unless it occurs exactly once: two
  // occurrences are as unreadable to the module as none.
  function findParam(name, query, fragment) {
    var pieces = splitParams(query).concat(splitParams(fragment));
    var found = null;
    var count = 0;
    for (var i = 0; i < pieces.length; i++) {
      var eq = pieces[i].indexOf('=');
      if (eq !== -1 && keyOf(pieces[i]) === name) {
        found = pieces[i].slice(eq + 1);
        count++;
      }
    }
    return count === 1 ? found : null;
  }

  // The canonical 60-character token, or null. Whitespace and hyphens are dropped,
  // case is ignored, and Crockford's look-alikes read as digits: O as 0, I and L as 1.
  function canonicalToken(raw) {
    if (raw === null || raw.length > MAX_INPUT) {
      return null;
    }
    var value = decodeComponent(raw);
    if (value === null) {
      return null;
    }
    var token = value.replace(/[\t\n\f\r \-]/g, '').toUpperCase()
      .replace(/O/g, '0').replace(/[IL]/g, '1');
    return TOKEN_RE.test(token) ? token : null;
  }

  function grouped(token) {
    var groups = [];
    for (var i = 0; i < token.length; i += GROUP) {
      groups.push(token.slice(i, i + GROUP));
    }
    return groups.join(' ');
  }

  // The address without the token, so that the history entry the browser keeps for
  // this page no longer holds it. Other parameters stay as they were.
  function addressWithout(name, loc) {
    function strip(part) {
      return splitParams(part).filter(function (piece) {
        return !(piece.indexOf('=') !== -1 && keyOf(piece) === name);
      }).join('&');
    }
    var query = strip(loc.search.replace(/^\?/, ''));
    var fragment = strip(loc.hash.replace(/^#/, ''));
    return loc.pathname + (query ? '?' + query : '') + (fragment ? '#' + fragment : '');
  }

  function forgetAddress(name) {
    if (!window.history || typeof window.history.replaceState !== 'function') {
      return;
    }
    try {
      window.history.replaceState(window.history.state, '', addressWithout(name, window.location));
    } catch (e) {
      // Some browsers refuse replaceState on file:// pages; the token then stays in
      // the address, which is where it was anyway.
    }
  }

  // Fallback for browsers without the asynchronous clipboard (plain http is not a
  // secure context): copy from a temporary, off-screen text field.
  function copyWithSelection(text) {
    var field = document.createElement('textarea');
    field.value = text;
    field.setAttribute('readonly', '');
    field.className = 'offscreen';
    document.body.appendChild(field);
    field.select();
    var copied = false;
    try {
      copied = document.execCommand('copy');
    } catch (e) {
      copied = false;
    }
    document.body.removeChild(field);
    return copied ? Promise.resolve() : Promise.reject(new Error('copy refused'));
  }

  function copyText(text) {
    if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
      return navigator.clipboard.writeText(text).catch(function () {
        return copyWithSelection(text);
      });
    }
    return copyWithSelection(text);
  }

  function selectToken(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  var shownToken = null;

  function show(token) {
    var view = document.getElementById('token-view');
    var missing = document.getElementById('no-token');
    var status = document.getElementById('copy-status');
    shownToken = token;
    status.textContent = '';
    if (token === null) {
      document.getElementById('token').textContent = '';
      view.hidden = true;
      missing.hidden = false;
      return;
    }
    document.getElementById('token').textContent = grouped(token);
    missing.hidden = true;
    view.hidden = false;
  }

  function onCopy() {
    var status = document.getElementById('copy-status');
    if (shownToken === null) {
      return;
    }
    copyText(shownToken).then(function () {
      status.textContent = 'Copied. Now paste it at your login prompt.';
    }, function () {
      selectToken(document.getElementById('token'));
      status.textContent = 'Copying did not work here: the token is selected, copy it yourself.';
    });
  }

  function readAddress() {
    var name = paramName();
    var loc = window.location;
    var raw = findParam(name, loc.search.replace(/^\?/, ''), loc.hash.replace(/^#/, ''));
    var token = canonicalToken(raw);
    // A token goes from the address as soon as it has been read. A malformed value is
    // left where it is: it works nowhere, and the user may want to see what was cut.
    if (token !== null) {
      forgetAddress(name);
    }
    show(token);
  }

  function start() {
    document.getElementById('copy').addEventListener('click', onCopy);
    // Another link opened in the same tab changes only the fragment: no new page load.
    window.addEventListener('hashchange', readAddress);
    readAddress();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
