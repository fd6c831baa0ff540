
// ---- Lookup: the same for every tenant (docs/pac.md). ES3 only: PAC engines can be old.

function FindProxyForURL(url, host) {
  var h = String(host).toLowerCase(), port = bkPort(String(url)), a, r;
  if (h.charAt(0) == "[" && h.charAt(h.length - 1) == "]") h = h.substring(1, h.length - 1);
  if (h.indexOf(":") >= 0) return PRIVATE_DIRECT && bkPrivate6(h) ? "DIRECT" : RESULTS[DEFAULT];
  if (h.charAt(h.length - 1) == ".") h = h.substring(0, h.length - 1);
  if (h == "") return RESULTS[DEFAULT];
  a = bkIp4(h);
  if (a >= 0) return bkAddress(a, port);
  if (a == -2) return RESULTS[DEFAULT];
  if (PLAIN_DIRECT && h.indexOf(".") < 0) return "DIRECT";
  if (EXCEPT.any && bkNames(EXCEPT, "." + h, port) >= 0) return "DIRECT";
  r = bkNames(RULES, "." + h, port);
  if (r >= 0) return RESULTS[r];
  /*IP_RULES*/
  return RESULTS[DEFAULT];
}

// An IPv4 address (as a number): private ranges, then CIDR exceptions, then CIDR rules.
function bkAddress(a, port) {
  var r;
  if (PRIVATE_DIRECT && bkPrivate4(a)) return "DIRECT";
  if (EXCEPT.any && bkCidr(EXCEPT, a, port) >= 0) return "DIRECT";
  r = bkCidr(RULES, a, port);
  return RESULTS[r >= 0 ? r : DEFAULT];
}

// A candidate list: -1 (none), a result index, or [portSet, result, ...] in precedence order
// (portSet -1: every port). -1 when no candidate allows the port.
function bkPick(v, port) {
  if (typeof v == "number") return v;
  for (var i = 0; i < v.length; i += 2) {
    if (v[i] < 0 || bkHasPort(PORTS[v[i]], port)) return v[i + 1];
  }
  return -1;
}

function bkHasPort(ports, port) {
  for (var i = 0; i < ports.length; i++) if (ports[i] == port) return true;
  return false;
}

// Names, walked as the edge's matcher walks them: one map m from "." + name to a node
// [exact, *.name, patterns anchored at name]. h is "." + host (every key starts with a dot, so
// no key is ever an Object.prototype member). The exact candidates of the host itself first;
// then, for each label-aligned suffix, longest first: the patterns anchored there (the first
// hit wins: a pattern beats any suffix rule, and shorter anchors only hold weaker patterns),
// and the first "*.suffix" hit, kept until no pattern can match any more.
function bkNames(t, h, port) {
  var m = t.m, v = m[h], best = -1, i = 0, n = 0, r, j, q, p, f;
  if (v !== undefined) {
    r = bkPick(v[0], port);
    if (r >= 0) return r;
  }
  for (;;) {
    i = h.indexOf(".", i + 1);
    if (i < 0) return best;
    n++;
    v = m[h.substring(i)];
    if (v === undefined) continue;
    if (v.length > 2) {
      // [labels, head, tail, glob, portSet, result]: the host's labels in front of the anchor
      // (f) must be as many as the pattern's, so no "*" reaches across a dot, start with head
      // and end with tail (the literal text around the stars); only a pattern with several
      // stars also needs shExpMatch for the middle.
      f = h.substring(1, i);
      p = v[2];
      for (j = 0; j < p.length; j++) {
        q = p[j];
        if (q[0] == n && f.length >= q[1].length + q[2].length && f.indexOf(q[1]) == 0 &&
            f.lastIndexOf(q[2]) == f.length - q[2].length && (!q[3] || shExpMatch(f, q[3])) &&
            (q[4] < 0 || bkHasPort(PORTS[q[4]], port))) return q[5];
      }
    }
    if (best < 0) {
      best = bkPick(v[1], port);
      if (best >= 0 && !t.n) return best;
    }
  }
}

// IPv4 networks, flattened at generation time into sorted disjoint ranges: c is
// [[start, ...], [candidates, ...]], each range's candidates being those of its longest
// prefix, then of the next shorter one, and so on (the matcher's port fall-through).
function bkCidr(t, a, port) {
  var s = t.c[0], lo = 0, hi = s.length - 1, mid;
  if (hi < 0 || a < s[0]) return -1;
  while (lo < hi) {
    mid = (lo + hi + 1) >> 1;
    if (s[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  return bkPick(t.c[1][lo], port);
}

// The host as an IPv4 address (a number) when it is an IPv4 literal in any spelling a URL
// parser accepts (127.1, 0x7f.0.0.1, 2130706433); -1 for a name; -2 for an invalid literal.
// Regular expressions are slow in some engines: names and dotted quads avoid them.
function bkIp4(h) {
  var i = h.lastIndexOf("."), c = h.charCodeAt(i + 1), p, a = 0, n, x;
  if (!(c >= 48 && c <= 57)) return -1; // the last label starts with a non-digit: a name
  p = h.split(".");
  if (p.length == 4) {
    for (i = 0; i < 4; i++) {
      x = p[i];
      n = x - 0;
      if (!(n >= 0 && n <= 255 && String(n) === x)) break;
      a = a * 256 + n;
    }
    if (i == 4) return a;
  }
  return bkIp4Parts(p);
}

// The WHATWG URL host parser's IPv4 rules: up to four parts, each decimal, 0x-hex or 0-octal;
// the last may fill the remaining bytes.
function bkIp4Parts(parts) {
  var a = 0, i, p, x, last = parts.length - 1;
  if (!/^(0x[0-9a-f]*|[0-9]+)$/.test(parts[last])) return -1;
  if (parts.length > 4) return -2;
  for (i = 0; i <= last; i++) {
    p = parts[i];
    if (/^0x[0-9a-f]*$/.test(p)) x = p.length == 2 ? 0 : parseInt(p.substring(2), 16);
    else if (/^0[0-7]*$/.test(p)) x = p.length == 1 ? 0 : parseInt(p.substring(1), 8);
    else if (/^[1-9][0-9]*$/.test(p)) x = parseInt(p, 10);
    else return -2;
    if (i < last) {
      if (x > 255) return -2;
      a += x * Math.pow(256, 3 - i);
    } else {
      if (x >= Math.pow(256, 4 - last)) return -2;
      a += x;
    }
  }
  return a;
}

// 10/8, 172.16/12, 192.168/16, 127/8, 169.254/16.
function bkPrivate4(a) {
  return (a >= 167772160 && a < 184549376) || (a >= 2886729728 && a < 2887778304) ||
    (a >= 3232235520 && a < 3232301056) || (a >= 2130706432 && a < 2147483648) ||
    (a >= 2851995648 && a < 2852061184);
}

// ::1, fc00::/7, fe80::/10.
function bkPrivate6(h) {
  var halves = h.split("::"), head, tail, g, f, i;
  if (halves.length > 2) return false;
  head = halves[0] == "" ? [] : halves[0].split(":");
  tail = halves.length < 2 || halves[1] == "" ? [] : halves[1].split(":");
  f = head.length ? parseInt(head[0], 16) : 0;
  if ((f >= 0xfc00 && f <= 0xfdff) || (f >= 0xfe80 && f <= 0xfebf)) return head[0].length == 4;
  g = head.concat(tail);
  if (halves.length == 2 ? tail.length == 0 : g.length != 8) return false;
  for (i = 0; i < g.length - 1; i++) if (!/^0{1,4}$/.test(g[i])) return false;
  return /^0{0,3}1$/.test(g[g.length - 1]);
}

// The port of the URL, or the scheme's default (https and wss 443, ftp 21, others 80). The
// common forms take a few indexOf calls; anything unusual goes to bkPortSlow.
function bkPort(url) {
  var s = url.indexOf("://"), e, c, p, q;
  if (s < 0) return 80;
  e = url.indexOf("/", s + 3);
  if (e < 0) e = url.length;
  c = url.lastIndexOf(":", e - 1);
  if (c == s) return bkDefaultPort(url.substring(0, s).toLowerCase());
  // A colon in the authority: a port, userinfo or an IPv6 literal (or "?"/"#" before any "/").
  q = url.indexOf("?", s);
  if (q >= 0 && q < e) return bkPortSlow(url, s);
  q = url.indexOf("#", s);
  if (q >= 0 && q < e) return bkPortSlow(url, s);
  q = url.indexOf("@", s);
  if (q >= 0 && q < e) return bkPortSlow(url, s);
  if (url.lastIndexOf("]", e - 1) > c) return bkDefaultPort(url.substring(0, s).toLowerCase());
  p = url.substring(c + 1, e);
  q = p - 0;
  return String(q) === p ? q : bkPortSlow(url, s);
}

function bkDefaultPort(scheme) {
  return scheme == "https" || scheme == "wss" ? 443 : scheme == "ftp" ? 21 : 80;
}

function bkPortSlow(url, s) {
  var rest = url.substring(s + 3), i, c;
  for (i = 0; i < rest.length; i++) {
    c = rest.charAt(i);
    if (c == "/" || c == "?" || c == "#") break;
  }
  rest = rest.substring(0, i);
  i = rest.lastIndexOf("@");
  if (i >= 0) rest = rest.substring(i + 1);
  i = rest.lastIndexOf(":");
  if (i > rest.lastIndexOf("]") && /^[0-9]+$/.test(rest.substring(i + 1))) {
    return parseInt(rest.substring(i + 1), 10);
  }
  return bkDefaultPort(url.substring(0, s).toLowerCase());
}
