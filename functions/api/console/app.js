// arrears operations console: plain JavaScript, no build step. It calls the operations API beside it
// (../v1/ops/...) with the signed-in user's bearer token; every page element is built with the DOM
// (never innerHTML), so nothing the API returns can run as code.
"use strict";

const T = {
  en: {
    skip: "Skip to content", title: "arrears", language: "Language", signout: "Sign out",
    "nav.dashboard": "Dashboard", "nav.campaigns": "Campaigns", "nav.strategies": "Strategies", "nav.cases": "Cases", "nav.audit": "Audit",
    "login.title": "Sign in", "login.user": "User name", "login.role": "Role", "login.submit": "Sign in",
    "login.local": "Local stack: the token is signed with the stack's own key (arrears token).",
    "login.cognito": "Sign in with your organisation's account", loading: "Loading…", saved: "Saved.",
    "dash.book": "Today's book by bucket", "dash.bucket": "Bucket", "dash.loans": "Loans", "dash.overdue": "Overdue",
    "dash.trend": "Delinquent loans, day by day", "dash.queues": "Queues and dead-letter queues",
    "dash.queue": "Queue", "dash.waiting": "Waiting", "dash.inflight": "In flight", "dash.noreport": "No daily report yet.",
    "dash.blocks": "Compliance blocks by rule", "dash.rule": "Rule", "dash.count": "Contacts",
    "dash.arrangements": "Plans and settlements", "dash.what": "What", "dash.forgiven": "Forgiven",
    "dash.cured": "Cured", "dash.new": "Newly overdue", "dash.day": "Day",
    "str.title": "Strategies", "str.id": "Strategy", "str.active": "Active version", "str.versions": "Versions",
    "str.draft": "Draft", "str.open": "Open", "str.version": "Version", "str.when": "When", "str.by": "By",
    "str.state": "State", "str.activate": "Activate", "str.view": "View", "str.rollback": "Roll back",
    "str.diff": "Diff with active", "str.edit": "Draft (JSON)", "str.save": "Save draft", "str.publish": "Publish draft",
    "str.none": "none", "str.isactive": "active", "str.published": "published", "str.dryrun": "Dry run",
    "str.variant": "Arm", "str.segment": "Segment", "str.step": "Step", "str.channel": "Channel", "str.noaction": "no action",
    "case.title": "Case", "case.loan": "Loan id", "case.open": "Open", "case.timeline": "Timeline",
    "case.bucket": "Bucket", "case.dpd": "Days past due", "case.overdue": "Overdue", "case.outstanding": "Outstanding",
    "case.strategy": "Strategy", "case.holds": "Holds", "case.promise": "Promise", "case.contact": "Contact",
    "case.note": "Note", "case.addnote": "Add note", "case.until": "Pay by", "case.amount": "Amount",
    "case.promise.add": "Record promise", "case.hold": "Hold", "case.reason": "Reason", "case.hold.add": "Place hold",
    "case.hold.lift": "Lift", "case.none": "none", "case.queue": "Today's work queue", "case.segment": "Segment",
    "case.next": "Today's step", "case.value": "Expected recovery",
    "case.stage": "Stage", "case.arrangement": "Arrangement", "offer.title": "Offer a plan or settlement",
    "offer.kind": "Kind", "offer.plan": "Payment plan", "offer.settlement": "Settlement",
    "offer.installments": "Installments", "offer.every": "Days between installments", "offer.discount": "Discount (%)",
    "offer.payby": "Settlement pay by", "offer.channel": "Send link by", "offer.send": "Send offer",
    "offer.list": "Offers", "offer.approve": "Approve", "offer.withdraw": "Withdraw",
    "offer.pending": "Offers awaiting approval", "offer.by": "Offered by", "offer.at": "At",
    "case.assigned": "Assigned to", "case.assign": "Assign", "case.assign.user": "Assign to user", "case.mine": "Assigned to me",
    "audit.title": "Audit trail", "audit.day": "Day", "audit.show": "Show", "audit.at": "At", "audit.user": "User",
    "audit.role": "Role", "audit.route": "Route", "audit.target": "Target", "audit.change": "Change",
    "err.session": "Your session has ended: sign in again.",
    "cmp.title": "Campaigns", "cmp.id": "Id", "cmp.name": "Name", "cmp.status": "Status", "cmp.channel": "Channel",
    "cmp.template": "Template", "cmp.buckets": "Buckets (comma-separated)", "cmp.dpdmin": "DPD from", "cmp.dpdmax": "DPD to",
    "cmp.cap": "Daily cap", "cmp.priority": "Priority", "cmp.dryrun": "Dry run", "cmp.create": "Create",
    "cmp.new": "New campaign", "cmp.matched": "Matched", "cmp.allowed": "Guard allows now", "cmp.refused": "Guard refuses now",
    "cmp.today": "Would send today", "cmp.cost": "Estimated cost", "cmp.progress": "Progress",
    "cmp.start": "Start", "cmp.pause": "Pause", "cmp.resume": "Resume", "cmp.cancel": "Cancel", "cmp.sent": "Sent",
    "cmp.planned": "Planned", "cmp.open": "Open",
  },
  "zh-CN": {
    skip: "跳到正文", title: "arrears 催收", language: "语言", signout: "退出",
    "nav.dashboard": "总览", "nav.campaigns": "催收活动", "nav.strategies": "策略", "nav.cases": "案件", "nav.audit": "审计",
    "login.title": "登录", "login.user": "用户名", "login.role": "角色", "login.submit": "登录",
    "login.local": "本地环境：令牌由本地密钥签发（arrears token）。",
    "login.cognito": "使用机构账号登录", loading: "加载中…", saved: "已保存。",
    "dash.book": "今日各账龄段贷款", "dash.bucket": "账龄段", "dash.loans": "笔数", "dash.overdue": "逾期金额",
    "dash.trend": "逾期贷款数（按日）", "dash.queues": "队列与死信队列",
    "dash.queue": "队列", "dash.waiting": "待处理", "dash.inflight": "处理中", "dash.noreport": "尚无日报。",
    "dash.blocks": "合规拦截（按规则）", "dash.rule": "规则", "dash.count": "次数",
    "dash.arrangements": "还款计划与和解", "dash.what": "项目", "dash.forgiven": "减免金额",
    "dash.cured": "已还清", "dash.new": "新增逾期", "dash.day": "日期",
    "str.title": "策略", "str.id": "策略", "str.active": "生效版本", "str.versions": "版本",
    "str.draft": "草稿", "str.open": "打开", "str.version": "版本", "str.when": "时间", "str.by": "操作人",
    "str.state": "状态", "str.activate": "启用", "str.view": "查看", "str.rollback": "回滚",
    "str.diff": "与生效版本对比", "str.edit": "草稿（JSON）", "str.save": "保存草稿", "str.publish": "发布草稿",
    "str.none": "无", "str.isactive": "生效中", "str.published": "已发布", "str.dryrun": "试运行",
    "str.variant": "分组", "str.segment": "分群", "str.step": "步骤", "str.channel": "渠道", "str.noaction": "无动作",
    "case.title": "案件", "case.loan": "贷款编号", "case.open": "打开", "case.timeline": "时间线",
    "case.bucket": "账龄段", "case.dpd": "逾期天数", "case.overdue": "逾期金额", "case.outstanding": "未还总额",
    "case.strategy": "策略", "case.holds": "暂停", "case.promise": "承诺还款", "case.contact": "联系方式",
    "case.note": "备注", "case.addnote": "添加备注", "case.until": "承诺日期", "case.amount": "金额",
    "case.promise.add": "记录承诺还款", "case.hold": "暂停原因", "case.reason": "说明", "case.hold.add": "暂停催收",
    "case.hold.lift": "解除", "case.none": "无", "case.queue": "今日工作队列", "case.segment": "分群",
    "case.next": "今日动作", "case.value": "预期回收",
    "case.stage": "阶段", "case.arrangement": "还款安排", "offer.title": "提供还款计划或和解方案",
    "offer.kind": "类型", "offer.plan": "分期还款计划", "offer.settlement": "和解（减免）",
    "offer.installments": "期数", "offer.every": "每期间隔天数", "offer.discount": "减免比例（%）",
    "offer.payby": "和解还款截止日", "offer.channel": "链接发送渠道", "offer.send": "发送方案",
    "offer.list": "方案", "offer.approve": "批准", "offer.withdraw": "撤回",
    "offer.pending": "待批准的方案", "offer.by": "提出人", "offer.at": "时间",
    "case.assigned": "负责人", "case.assign": "分配", "case.assign.user": "分配给用户", "case.mine": "分配给我的案件",
    "audit.title": "审计记录", "audit.day": "日期", "audit.show": "查看", "audit.at": "时间", "audit.user": "用户",
    "audit.role": "角色", "audit.route": "操作", "audit.target": "对象", "audit.change": "变更",
    "err.session": "会话已过期，请重新登录。",
    "cmp.title": "催收活动", "cmp.id": "编号", "cmp.name": "名称", "cmp.status": "状态", "cmp.channel": "渠道",
    "cmp.template": "模板", "cmp.buckets": "账龄段（逗号分隔）", "cmp.dpdmin": "逾期天数自", "cmp.dpdmax": "逾期天数至",
    "cmp.cap": "每日上限", "cmp.priority": "优先级", "cmp.dryrun": "试运行", "cmp.create": "创建",
    "cmp.new": "新建活动", "cmp.matched": "匹配贷款", "cmp.allowed": "当前合规允许", "cmp.refused": "当前合规拒绝",
    "cmp.today": "今日预计发送", "cmp.cost": "预计费用", "cmp.progress": "进度",
    "cmp.start": "启动", "cmp.pause": "暂停", "cmp.resume": "恢复", "cmp.cancel": "取消", "cmp.sent": "已发送",
    "cmp.planned": "已计划", "cmp.open": "打开",
  },
};

let lang = localStorage.getItem("arrears.lang") || ((navigator.language || "").startsWith("zh") ? "zh-CN" : "en");
let me = null;
let config = null;
let nav = new AbortController(); // a page's reads, abandoned when the user moves on before they answer

const t = (key) => (T[lang] && T[lang][key]) || T.en[key] || key;
const $ = (sel) => document.querySelector(sel);
const token = () => sessionStorage.getItem("arrears.token") || "";

const SVG = "http://www.w3.org/2000/svg";

function h(tag, attrs, ...children) {
  const el = tag === "svg" || tag === "rect" ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function say(text, error) {
  const s = $("#status");
  s.textContent = text || "";
  s.className = error ? "error" : "";
}

async function call(path, options) {
  const opts = options || {};
  const headers = Object.assign({ Authorization: "Bearer " + token() }, opts.headers || {});
  const signal = opts.method ? undefined : nav.signal; // a write is never abandoned
  const r = await fetch("../v1/ops" + path, Object.assign({}, opts, { headers, signal }));
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) {
    sessionStorage.removeItem("arrears.token");
    me = null;
    throw new Error(t("err.session"));
  }
  if (!r.ok) throw new Error((body.field ? body.field + ": " : "") + (body.Message || r.statusText));
  return body;
}

function write(method, path, body) {
  return call(path, {
    method,
    headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
    body: JSON.stringify(body || {}),
  });
}

function view(title, ...content) {
  const v = $("#view");
  v.replaceChildren(h("h2", { id: "view-title" }, title), ...content.filter((c) => c));
  document.title = title + " · arrears";
}

function table(headers, rows, caption) {
  return h(
    "table",
    {},
    caption ? h("caption", { class: "muted" }, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", class: x.num ? "num" : null }, typeof x === "object" ? x.label : x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { class: headers[i].num ? "num" : null }, c))))),
  );
}

// ------------------------------------------------------------------------------------- sign-in

async function loadConfig() {
  if (!config) config = await (await fetch("config.json")).json();
  return config;
}

async function loginView() {
  const c = await loadConfig();
  if (c.auth === "cognito") {
    view(t("login.title"), h("button", { type: "button", onclick: () => cognitoStart(c) }, t("login.cognito")));
    return;
  }
  const form = h(
    "form",
    { id: "login", onsubmit: localLogin },
    h("label", { for: "login-user" }, t("login.user"), h("input", { id: "login-user", name: "user", required: true, autocomplete: "username" })),
    h(
      "label",
      { for: "login-role" },
      t("login.role"),
      h("select", { id: "login-role", name: "role" }, ["supervisor", "agent", "analyst", "admin"].map((r) => h("option", { value: r }, r))),
    ),
    h("button", { type: "submit" }, t("login.submit")),
  );
  view(t("login.title"), h("p", { class: "muted" }, t("login.local")), form);
  $("#login-user").focus();
}

async function localLogin(ev) {
  ev.preventDefault();
  const f = ev.target;
  const r = await fetch("../local/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: f.user.value.trim(), role: f.role.value }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) return say(body.Message || r.statusText, true);
  sessionStorage.setItem("arrears.token", body.token);
  await start();
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function cognitoStart(c) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("arrears.pkce", JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    response_type: "code", client_id: c.client_id, redirect_uri: c.redirect_uri, scope: "openid email profile",
    code_challenge: challenge, code_challenge_method: "S256", state,
  });
  location.assign(c.login_domain + "/oauth2/authorize?" + q);
}

async function cognitoFinish(c) {
  const q = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem("arrears.pkce") || "{}");
  sessionStorage.removeItem("arrears.pkce");
  history.replaceState(null, "", location.pathname);
  if (!q.get("code") || q.get("state") !== saved.state) return;
  const r = await fetch(c.login_domain + "/oauth2/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: c.client_id, code: q.get("code"),
      redirect_uri: c.redirect_uri, code_verifier: saved.verifier,
    }),
  });
  const body = await r.json().catch(() => ({}));
  if (body.id_token) sessionStorage.setItem("arrears.token", body.id_token);
}

// ----------------------------------------------------------------------------------- dashboard

async function dashboardView() {
  const d = await call("/dashboard?days=14");
  const latest = d.latest || {};
  const buckets = Object.entries(latest.loans_by_bucket || {});
  const overdue = latest.overdue_by_bucket || {};
  const book = buckets.length
    ? table(
        [t("dash.bucket"), { label: t("dash.loans"), num: true }, t("dash.overdue")],
        buckets.map(([b, n]) => [b, n, Object.entries(overdue[b] || {}).map(([cur, v]) => `${v} ${cur}`).join(", ")]),
        latest.run_date,
      )
    : h("p", {}, t("dash.noreport"));
  const max = Math.max(1, ...d.trend.map((x) => x.delinquent_loans));
  const w = 100 / Math.max(1, d.trend.length);
  const label = d.trend.map((x) => `${x.day}: ${x.delinquent_loans}`).join("; ");
  const chart = h(
    "svg",
    { class: "trend", viewBox: "0 0 100 40", preserveAspectRatio: "none", role: "img", "aria-label": `${t("dash.trend")}: ${label || t("dash.noreport")}` },
  );
  d.trend.forEach((x, i) => {
    const height = (38 * x.delinquent_loans) / max;
    chart.append(h("rect", { class: "bar", x: i * w + w * 0.1, y: 40 - height, width: w * 0.8, height }));
  });
  const trendTable = table(
    [t("dash.day"), { label: t("dash.loans"), num: true }, { label: t("dash.new"), num: true }, { label: t("dash.cured"), num: true }],
    d.trend.map((x) => [x.day, x.delinquent_loans, x.newly_overdue, x.cured]),
  );
  const queues = table(
    [t("dash.queue"), { label: t("dash.waiting"), num: true }, { label: t("dash.inflight"), num: true }],
    d.queues.map((q) => [
      q.queue,
      h("span", { class: q.dead_letter && q.waiting ? "dlq-bad" : null }, q.waiting),
      q.in_flight,
    ]),
  );
  const actions = latest.actions || {};
  const blocks = table(
    [t("dash.rule"), { label: t("dash.count"), num: true }],
    Object.entries(actions.blocked_by_rule || {}).map(([rule, n]) => [rule, n]),
    latest.run_date,
  );
  const arr = latest.arrangements || {};
  const arrangements = table(
    [t("dash.what"), { label: t("dash.count"), num: true }],
    [
      ...["accepted", "started", "broken", "completed", "settled"].map((k) => [k, arr[k] || 0]),
      [t("dash.forgiven"), Object.entries(arr.amount_forgiven || {}).map(([cur, v]) => `${v} ${cur}`).join(", ") || "0"],
    ],
    latest.run_date,
  );
  view(
    t("nav.dashboard"),
    h("section", { "aria-labelledby": "book-h" }, h("h2", { id: "book-h" }, t("dash.book")), book),
    h("section", { "aria-labelledby": "blocks-h" }, h("h2", { id: "blocks-h" }, t("dash.blocks")), blocks),
    h("section", { "aria-labelledby": "arr-h" }, h("h2", { id: "arr-h" }, t("dash.arrangements")), arrangements),
    h("section", { "aria-labelledby": "trend-h" }, h("h2", { id: "trend-h" }, t("dash.trend")), chart, trendTable),
    h("section", { "aria-labelledby": "queues-h" }, h("h2", { id: "queues-h" }, t("dash.queues")), queues),
  );
}

// ---------------------------------------------------------------------------------- strategies

async function strategiesView() {
  const d = await call("/strategies");
  view(
    t("str.title"),
    h(
      "section",
      {},
      table(
        [t("str.id"), { label: t("str.active"), num: true }, { label: t("str.versions"), num: true }, t("str.draft"), ""],
        d.strategies.map((s) => [
          s.id,
          s.active || t("str.none"),
          s.versions.length,
          s.draft ? `${s.draft.saved_at} (${s.draft.by || ""})` : t("str.none"),
          h("a", { href: `#/strategies/${encodeURIComponent(s.id)}`, "aria-label": `${t("str.open")} ${s.id}` }, t("str.open")),
        ]),
      ),
    ),
  );
}

async function strategyView(id) {
  const d = await call("/strategies");
  const s = d.strategies.find((x) => x.id === id);
  if (!s) throw new Error(`${id}?`);
  const canWrite = me.permissions.includes("strategies.write");
  const out = h("pre", { class: "diff", id: "diff", "aria-live": "polite" });
  const versions = table(
    [{ label: t("str.version"), num: true }, t("str.state"), t("str.when"), t("str.by"), ""],
    s.versions.slice().reverse().map((v) => [
      v.version,
      v.version === s.active ? t("str.isactive") : t("str.published"),
      v.created_at || "",
      v.by || "",
      h(
        "span",
        {},
        h("button", { type: "button", class: "secondary", "aria-label": `${t("str.view")} ${v.version}`, onclick: () => show(id, String(v.version), out) }, t("str.view")),
        " ",
        canWrite
          ? h("button", { type: "button", class: "secondary", "aria-label": `${t("str.dryrun")} ${v.version}`, onclick: () => dryRun(id, String(v.version), out) }, t("str.dryrun"))
          : null,
        " ",
        canWrite && v.version !== s.active
          ? h("button", { type: "button", "aria-label": `${t("str.activate")} ${v.version}`, onclick: () => act(() => write("POST", `/strategies/${id}/active`, { version: v.version }), () => strategyView(id)) }, t("str.activate"))
          : null,
      ),
    ]),
  );
  const parts = [h("section", {}, versions)];
  if (canWrite) {
    const base = s.draft ? "draft" : String(s.active || "");
    const doc = base ? (await call(`/strategies/${id}/versions/${base}`)).document : { id };
    delete doc.version;
    parts.push(
      h(
        "section",
        { "aria-labelledby": "draft-h" },
        h("h2", { id: "draft-h" }, t("str.draft")),
        h(
          "form",
          {
            id: "draft-form",
            onsubmit: (ev) => {
              ev.preventDefault();
              let parsed;
              try {
                parsed = JSON.parse(ev.target.document.value);
              } catch (e) {
                return say(String(e), true);
              }
              act(() => write("PUT", `/strategies/${id}/draft`, { document: parsed }), () => strategyView(id));
            },
          },
          h("label", { for: "draft-doc", class: "wide" }, t("str.edit"), h("textarea", { id: "draft-doc", name: "document", class: "doc", spellcheck: "false" }, JSON.stringify(doc, null, 2))),
          h("button", { type: "submit" }, t("str.save")),
          s.draft ? h("button", { type: "button", id: "publish", onclick: () => act(() => write("POST", `/strategies/${id}/versions`, {}), () => strategyView(id)) }, t("str.publish")) : null,
          s.draft && s.active ? h("button", { type: "button", class: "secondary", id: "diff-draft", onclick: () => diffDraft(id, out) }, t("str.diff")) : null,
          s.history.length ? h("button", { type: "button", class: "secondary", id: "rollback", onclick: () => act(() => write("POST", `/strategies/${id}/rollback`, {}), () => strategyView(id)) }, t("str.rollback")) : null,
        ),
      ),
    );
  }
  parts.push(h("section", {}, out));
  view(`${t("str.title")}: ${id}`, ...parts);
}

async function dryRun(id, version, out) {
  say(t("loading"));
  try {
    let job = await call(`/strategies/${id}/dry-runs`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ version }) });
    for (let i = 0; i < 120 && job.status !== "done"; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      job = await call(`/strategies/dry-runs/${job.job_id}`);
    }
    out.replaceChildren(
      table(
        [t("str.variant"), t("str.segment"), t("str.step"), t("str.channel"), { label: t("dash.loans"), num: true }],
        (job.by_step || []).map((r) => [r.variant, r.segment, r.step, r.channel, r.loans]),
        `${t("str.dryrun")} v${version}: ${job.loans ?? "…"} · ${t("str.noaction")}: ${job.no_action ?? "…"}`,
      ),
    );
    say("");
  } catch (e) {
    say(e.message, true);
  }
}

async function show(id, version, out) {
  const v = await call(`/strategies/${id}/versions/${version}`);
  out.textContent = JSON.stringify(v.document, null, 2);
}

async function diffDraft(id, out) {
  const d = await call(`/strategies/${id}/diff`);
  out.replaceChildren(...d.diff.split("\n").map((line) => h("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : null }, line + "\n")));
}

// ----------------------------------------------------------------------------------- campaigns

function campaignBody(f) {
  const target = {};
  const buckets = f.buckets.value.split(",").map((x) => x.trim()).filter(Boolean);
  if (buckets.length) target.buckets = buckets;
  if (f.dpdmin.value || f.dpdmax.value) target.dpd = [Number(f.dpdmin.value || 1), f.dpdmax.value ? Number(f.dpdmax.value) : null];
  return {
    campaign_id: f.cid.value.trim(), name: f.cname.value.trim(), target, channel: f.channel.value,
    template: f.template.value.trim(), daily_cap: Number(f.cap.value), priority: f.priority.value,
  };
}

async function campaignsView() {
  const d = await call("/campaigns");
  const parts = [
    h(
      "section",
      {},
      table(
        [t("cmp.id"), t("cmp.name"), t("cmp.status"), t("cmp.channel"), { label: t("cmp.matched"), num: true }, { label: t("cmp.planned"), num: true }, { label: t("cmp.sent"), num: true }, ""],
        d.campaigns.map((c) => [
          c.campaign_id, c.name, c.status, c.channel, c.matched, c.counters.planned, c.counters.sent,
          h("a", { href: `#/campaigns/${encodeURIComponent(c.campaign_id)}`, "aria-label": `${t("cmp.open")} ${c.campaign_id}` }, t("cmp.open")),
        ]),
      ),
    ),
  ];
  if (me.permissions.includes("campaigns.write")) {
    const result = h("div", { id: "dry-run", "aria-live": "polite" });
    const field = (id, name, label, attrs) => h("label", { for: id }, label, h("input", Object.assign({ id, name }, attrs || {})));
    const form = h(
      "form",
      {
        id: "campaign-form",
        onsubmit: (ev) => {
          ev.preventDefault();
          const body = campaignBody(ev.target);
          act(() => write("POST", "/campaigns", body), () => { location.hash = `#/campaigns/${encodeURIComponent(body.campaign_id)}`; });
        },
      },
      field("cmp-id", "cid", t("cmp.id"), { required: true, pattern: "[a-z0-9][a-z0-9\\-]{0,62}" }),
      field("cmp-name", "cname", t("cmp.name"), { required: true, maxlength: 200 }),
      field("cmp-buckets", "buckets", t("cmp.buckets"), { value: "M1" }),
      field("cmp-dpdmin", "dpdmin", t("cmp.dpdmin"), { type: "number", min: 1 }),
      field("cmp-dpdmax", "dpdmax", t("cmp.dpdmax"), { type: "number", min: 1 }),
      h("label", { for: "cmp-channel" }, t("cmp.channel"), h("select", { id: "cmp-channel", name: "channel" }, ["sms", "email", "voice", "wechat", "letter"].map((x) => h("option", { value: x }, x)))),
      field("cmp-template", "template", t("cmp.template"), { required: true, value: "zh-CN/m1_reminder" }),
      field("cmp-cap", "cap", t("cmp.cap"), { type: "number", min: 1, value: 100, required: true }),
      h("label", { for: "cmp-priority" }, t("cmp.priority"), h("select", { id: "cmp-priority", name: "priority" }, ["ranked", "before_strategy", "after_strategy"].map((x) => h("option", { value: x }, x)))),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          id: "dry-run-button",
          onclick: async () => {
            try {
              const r = await write("POST", "/campaigns/dry-run", campaignBody($("#campaign-form")));
              result.replaceChildren(table(["", ""], [
                [t("cmp.matched"), r.matched], [t("cmp.allowed"), r.guard_allows_now],
                [t("cmp.refused"), Object.entries(r.guard_refuses_now).map(([k, v]) => `${k}: ${v}`).join(", ") || "0"],
                [t("cmp.today"), r.would_send_today], [t("cmp.cost"), r.estimated_cost],
              ]));
            } catch (e) {
              say(e.message, true);
            }
          },
        },
        t("cmp.dryrun"),
      ),
      h("button", { type: "submit" }, t("cmp.create")),
    );
    parts.push(h("section", { "aria-labelledby": "new-h" }, h("h2", { id: "new-h" }, t("cmp.new")), form, result));
  }
  view(t("cmp.title"), ...parts);
}

let refresh = null;

async function campaignView(cid) {
  const c = await call(`/campaigns/${encodeURIComponent(cid)}`);
  const p = c.progress;
  const canWrite = me.permissions.includes("campaigns.write");
  const verbs = { draft: ["start", "cancel"], running: ["pause", "cancel"], paused: ["resume", "cancel"] }[c.status] || [];
  const buttons = canWrite
    ? verbs.map((v) => h("button", { type: "button", class: v === "cancel" ? "secondary" : null, id: `cmp-${v}`, onclick: () => act(() => write("POST", `/campaigns/${cid}/${v}`, {}), () => campaignView(cid)) }, t(`cmp.${v}`)))
    : [];
  const rows = Object.entries(p).map(([k, v]) => [k, typeof v === "object" ? Object.entries(v).map(([a, b]) => `${a}: ${b}`).join(", ") || "0" : v]);
  view(
    `${t("cmp.title")}: ${c.name}`,
    h("section", {}, table(["", ""], [[t("cmp.status"), h("span", { id: "cmp-status" }, c.status)], [t("cmp.channel"), `${c.channel} · ${c.template}`], [t("cmp.cap"), c.daily_cap], [t("cmp.priority"), c.priority]]), h("p", {}, ...buttons)),
    h("section", { "aria-labelledby": "prog-h" }, h("h2", { id: "prog-h" }, t("cmp.progress")), h("div", { id: "progress" }, table(["", { label: "", num: true }], rows))),
  );
  clearTimeout(refresh);
  refresh = setTimeout(() => { if (location.hash === `#/campaigns/${encodeURIComponent(cid)}`) campaignView(cid).catch(() => {}); }, 5000);
}

// ---------------------------------------------------------------------------------------- case

async function caseView(loanId) {
  const search = h(
    "form",
    { id: "case-search", role: "search", onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/case/${encodeURIComponent(ev.target.loan.value.trim())}`; } },
    h("label", { for: "case-loan" }, t("case.loan"), h("input", { id: "case-loan", name: "loan", required: true, value: loanId || "" })),
    h("button", { type: "submit" }, t("case.open")),
  );
  if (!loanId) {
    const q = await call("/queue?limit=50");
    const rows = q.cases.map((c) => [
      h("a", { href: `#/case/${encodeURIComponent(c.loan_id)}` }, c.loan_id),
      c.bucket_now, c.dpd, c.segment, `${c.channel} ${c.step}`, `${c.expected_recovery} ${c.currency}`,
    ]);
    const list = table([t("case.loan"), t("case.bucket"), { label: t("case.dpd"), num: true }, t("case.segment"), t("case.next"), { label: t("case.value"), num: true }], rows, `${t("case.queue")}: ${q.total}`);
    const mine = await call("/queue/mine");
    const mineRows = mine.cases.map((c) => [h("a", { href: `#/case/${encodeURIComponent(c.loan_id)}` }, c.loan_id), c.bucket_now, c.segment || "", `${c.outstanding} ${c.currency}`]);
    const mineList = table([t("case.loan"), t("case.bucket"), t("case.segment"), { label: t("case.outstanding"), num: true }], mineRows, `${t("case.mine")}: ${mine.total}`);
    const me = await call("/me");
    let waiting = null;
    if (me.permissions.includes("offers.approve")) {
      const p = await call("/offers/pending");
      const rows = p.offers.map((o) => [h("a", { href: `#/case/${encodeURIComponent(o.loan_id)}` }, o.loan_id), o.kind, o.by, o.at]);
      waiting = h("section", { "aria-labelledby": "pending-h", id: "pending" }, h("h2", { id: "pending-h" }, t("offer.pending")), table([t("case.loan"), t("offer.kind"), t("offer.by"), t("offer.at")], rows, `${t("offer.pending")}: ${p.offers.length}`));
    }
    return view(
      t("case.title"),
      search,
      waiting,
      h("section", { "aria-labelledby": "mine-h", id: "mine" }, h("h2", { id: "mine-h" }, t("case.mine")), mineList),
      h("section", { "aria-labelledby": "queue-h" }, h("h2", { id: "queue-h" }, t("case.queue")), list),
    );
  }
  const c = await call(`/loans/${encodeURIComponent(loanId)}`);
  const facts = [
    [t("case.bucket"), c.bucket],
    [t("case.dpd"), c.days_past_due],
    [t("case.overdue"), `${c.overdue} ${c.currency}`],
    [t("case.outstanding"), `${c.outstanding} ${c.currency}`],
    [t("case.strategy"), c.strategy ? `${c.strategy} v${c.strategy_version} (${c.variant})` : t("case.none")],
    [t("case.promise"), c.promise ? `${c.promise.amount} ${c.currency} ≤ ${c.promise.until}` : t("case.none")],
    [t("case.contact"), c.contact ? `${c.contact.phone} ${c.contact.email}` : t("case.none")],
    [t("case.stage"), c.stage || t("case.none")],
    [t("case.assigned"), c.assigned_to || t("case.none")],
    [t("case.arrangement"), c.arrangement ? `${c.arrangement.kind} ${c.arrangement.status}${c.arrangement.next_due ? ` → ${c.arrangement.next_due}` : ""}` : t("case.none")],
  ];
  const me = await call("/me");
  const offers = c.timeline.filter((e) => e.kind === "offer");
  const offerList = h(
    "ul",
    { id: "offers" },
    offers.length
      ? offers.map((o) =>
          h(
            "li",
            {},
            `${o.offer_kind} ${o.status} (${o.schedule.map(([d, a]) => `${a} ${c.currency} ${d}`).join("; ")}) `,
            o.status === "pending_approval" && me.permissions.includes("offers.approve")
              ? h("button", { type: "button", onclick: () => act(() => write("POST", `/loans/${loanId}/offers/${o.offer_id}/approve`, {}), () => caseView(loanId)) }, t("offer.approve"))
              : null,
            ["pending_approval", "offered"].includes(o.status)
              ? h("button", { type: "button", class: "secondary", "aria-label": `${t("offer.withdraw")} ${o.offer_id}`, onclick: () => act(() => write("POST", `/loans/${loanId}/offers/${o.offer_id}/withdraw`, {}), () => caseView(loanId)) }, t("offer.withdraw"))
              : null,
          ),
        )
      : h("li", {}, t("case.none")),
  );
  const assignForm = me.permissions.includes("cases.assign")
    ? h(
        "form",
        { id: "assign-form", onsubmit: (ev) => { ev.preventDefault(); act(() => write("POST", `/loans/${loanId}/assignment`, { user: ev.target.user.value.trim() }), () => caseView(loanId)); } },
        h("label", { for: "assign-user" }, t("case.assign.user"), h("input", { id: "assign-user", name: "user", required: true, maxlength: 128, value: c.assigned_to || "" })),
        h("button", { type: "submit" }, t("case.assign")),
      )
    : null;
  const offerBody = (f) =>
    f.kind.value === "plan"
      ? { kind: "plan", installments: Number(f.installments.value), every_days: Number(f.every.value), channel: f.channel.value }
      : { kind: "settlement", discount_pct: f.discount.value, pay_by: f.payby.value, channel: f.channel.value };
  const offerForm = h(
    "form",
    { id: "offer-form", onsubmit: (ev) => { ev.preventDefault(); act(() => write("POST", `/loans/${loanId}/offers`, offerBody(ev.target)), () => caseView(loanId)); } },
    h("label", { for: "offer-kind" }, t("offer.kind"), h("select", { id: "offer-kind", name: "kind" }, h("option", { value: "plan" }, t("offer.plan")), h("option", { value: "settlement" }, t("offer.settlement")))),
    h("label", { for: "offer-installments" }, t("offer.installments"), h("input", { id: "offer-installments", name: "installments", type: "number", min: 2, max: 60, value: 3 })),
    h("label", { for: "offer-every" }, t("offer.every"), h("input", { id: "offer-every", name: "every", type: "number", min: 7, max: 31, value: 30 })),
    h("label", { for: "offer-discount" }, t("offer.discount"), h("input", { id: "offer-discount", name: "discount", inputmode: "decimal", value: "10" })),
    h("label", { for: "offer-payby" }, t("offer.payby"), h("input", { id: "offer-payby", name: "payby", type: "date" })),
    h("label", { for: "offer-channel" }, t("offer.channel"), h("select", { id: "offer-channel", name: "channel" }, ["sms", "email", "wechat"].map((x) => h("option", { value: x }, x)))),
    h("button", { type: "submit" }, t("offer.send")),
  );
  const holds = Object.entries(c.holds);
  const holdList = h(
    "ul",
    { id: "holds" },
    holds.length
      ? holds.map(([hold, sources]) =>
          h(
            "li",
            {},
            `${hold} (${sources.join(", ")}) `,
            sources.includes("operator")
              ? h("button", { type: "button", class: "secondary", "aria-label": `${t("case.hold.lift")} ${hold}`, onclick: () => act(() => write("DELETE", `/loans/${loanId}/holds/${hold}`), () => caseView(loanId)) }, t("case.hold.lift"))
              : null,
          ),
        )
      : h("li", {}, t("case.none")),
  );
  const forms = h(
    "section",
    {},
    h(
      "form",
      { id: "note-form", onsubmit: (ev) => { ev.preventDefault(); act(() => write("POST", `/loans/${loanId}/notes`, { text: ev.target.text.value }), () => caseView(loanId)); } },
      h("label", { for: "note-text", class: "wide" }, t("case.note"), h("textarea", { id: "note-text", name: "text", required: true, maxlength: 2000 })),
      h("button", { type: "submit" }, t("case.addnote")),
    ),
    h(
      "form",
      { id: "promise-form", onsubmit: (ev) => { ev.preventDefault(); act(() => write("POST", `/loans/${loanId}/promises`, { until: ev.target.until.value, amount: ev.target.amount.value }), () => caseView(loanId)); } },
      h("label", { for: "promise-until" }, t("case.until"), h("input", { id: "promise-until", name: "until", type: "date", required: true })),
      h("label", { for: "promise-amount" }, `${t("case.amount")} (${c.currency})`, h("input", { id: "promise-amount", name: "amount", inputmode: "decimal", required: true, pattern: "[0-9]+(\\.[0-9]{1,3})?" })),
      h("button", { type: "submit" }, t("case.promise.add")),
    ),
    h(
      "form",
      { id: "hold-form", onsubmit: (ev) => { ev.preventDefault(); act(() => write("POST", `/loans/${loanId}/holds`, { hold: ev.target.hold.value, reason: ev.target.reason.value || undefined }), () => caseView(loanId)); } },
      h("label", { for: "hold-name" }, t("case.hold"), h("select", { id: "hold-name", name: "hold" }, ["dispute", "hardship", "paused"].map((x) => h("option", { value: x }, x)))),
      h("label", { for: "hold-reason" }, t("case.reason"), h("input", { id: "hold-reason", name: "reason", maxlength: 500 })),
      h("button", { type: "submit" }, t("case.hold.add")),
    ),
  );
  const timeline = h(
    "ol",
    { class: "timeline", id: "timeline" },
    c.timeline.map((e) =>
      h(
        "li",
        {},
        h("span", { class: "kind" }, e.kind),
        " ",
        h("span", { class: "muted" }, e.at || ""),
        " ",
        Object.entries(e).filter(([k, v]) => !["kind", "at"].includes(k) && v !== null && v !== "").map(([k, v]) => `${k}: ${v}`).join(" · "),
      ),
    ),
  );
  view(
    `${t("case.title")}: ${c.loan_id}`,
    search,
    h("section", {}, table(["", ""], facts), h("h2", {}, t("case.holds")), holdList, assignForm),
    forms,
    h("section", { "aria-labelledby": "offers-h" }, h("h2", { id: "offers-h" }, t("offer.list")), offerList, h("h3", {}, t("offer.title")), offerForm),
    h("section", { "aria-labelledby": "tl-h" }, h("h2", { id: "tl-h" }, t("case.timeline")), timeline),
  );
}

// --------------------------------------------------------------------------------------- audit

async function auditView(day) {
  const d = await call("/audit" + (day ? `?day=${encodeURIComponent(day)}` : ""));
  const form = h(
    "form",
    { id: "audit-form", onsubmit: (ev) => { ev.preventDefault(); auditView(ev.target.day.value).catch((e) => say(e.message, true)); } },
    h("label", { for: "audit-day" }, t("audit.day"), h("input", { id: "audit-day", name: "day", type: "date", value: d.day })),
    h("button", { type: "submit" }, t("audit.show")),
  );
  view(
    t("audit.title"),
    form,
    h(
      "section",
      {},
      table(
        [t("audit.at"), t("audit.user"), t("audit.role"), t("audit.route"), t("audit.target"), t("audit.change")],
        d.records.map((r) => [r.at, r.user, r.role, r.route, JSON.stringify(r.target), `${JSON.stringify(r.before)} → ${JSON.stringify(r.after)}`]),
      ),
    ),
  );
}

// ------------------------------------------------------------------------------------ plumbing

async function act(doit, then) {
  say(t("loading"));
  try {
    await doit();
    await then();
    say(t("saved"));
  } catch (e) {
    say(e.message, true);
  }
}

function translateStatic() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n)));
  $("#lang").value = lang;
}

async function route() {
  nav.abort();
  nav = new AbortController();
  const mine = nav.signal;
  if (!me) return loginView();
  const [, page, arg] = (location.hash || "#/dashboard").split("/");
  document.querySelectorAll("#nav a").forEach((a) => {
    if (a.getAttribute("href") === `#/${page || "dashboard"}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  say("");
  try {
    if (page === "strategies") await (arg ? strategyView(decodeURIComponent(arg)) : strategiesView());
    else if (page === "campaigns") await (arg ? campaignView(decodeURIComponent(arg)) : campaignsView());
    else if (page === "case") await caseView(arg ? decodeURIComponent(arg) : "");
    else if (page === "audit") await auditView();
    else await dashboardView();
    $("#main").focus({ preventScroll: true });
  } catch (e) {
    if (mine.aborted) return; // the user went elsewhere meanwhile
    say(e.message, true);
    if (!me) await loginView();
  }
}

async function start() {
  translateStatic();
  const c = await loadConfig();
  if (c.auth === "cognito" && location.search.includes("code=")) await cognitoFinish(c);
  me = null;
  if (token()) {
    try {
      me = await call("/me");
    } catch (e) {
      say(e.message, true);
    }
  }
  $("#nav").hidden = !me;
  $("#signout").hidden = !me;
  $("#user").textContent = me ? `${me.user} (${me.role})` : "";
  document.querySelectorAll("#nav a[data-needs]").forEach((a) => (a.hidden = !me || !me.permissions.includes(a.dataset.needs)));
  await route();
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  $("#lang").addEventListener("change", (ev) => {
    lang = ev.target.value;
    localStorage.setItem("arrears.lang", lang);
    translateStatic();
    route();
  });
  $("#signout").addEventListener("click", () => {
    sessionStorage.removeItem("arrears.token");
    start();
  });
  start();
});
