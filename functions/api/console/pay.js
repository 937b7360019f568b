// The borrower's self-service page: nothing about the debt is shown until the visitor confirms who
// they are; then the offer, in the borrower's language, and its acceptance (once).
"use strict";
(function () {
  const T = {
    en: {
      title: "Your message",
      why: "To protect your privacy, please confirm who you are first.",
      question: "The last 4 characters of your ID number, or your birth date (YYYY-MM-DD)",
      continue: "Continue",
      due: "Due on",
      amount: "Amount",
      accept: "Accept this offer",
      plan: "Your payment plan",
      settlement: "Your settlement offer",
      planSummary: (o) => `${o.owed} ${o.currency} in ${o.schedule.length} installments.`,
      settlementSummary: (o) => `Pay ${o.schedule[0].amount} ${o.currency} by ${o.schedule[0].due_on} and the remaining ${o.forgiven} ${o.currency} is forgiven.`,
      expiry: (o) => `This offer is open until ${o.expires_at.slice(0, 10)}.`,
      accepted: "Accepted. Thank you: we have paused reminders while you follow the plan.",
      failed: "Something went wrong. Please try again.",
    },
    "zh-CN": {
      title: "您的消息",
      why: "为保护您的隐私，请先验证身份。",
      question: "身份证号后4位，或出生日期（YYYY-MM-DD）",
      continue: "继续",
      due: "到期日",
      amount: "金额",
      accept: "接受此方案",
      plan: "您的还款计划",
      settlement: "您的和解方案",
      planSummary: (o) => `共 ${o.owed} ${o.currency}，分 ${o.schedule.length} 期偿还。`,
      settlementSummary: (o) => `请在 ${o.schedule[0].due_on} 前还款 ${o.schedule[0].amount} ${o.currency}，其余 ${o.forgiven} ${o.currency} 予以减免。`,
      expiry: (o) => `本方案有效期至 ${o.expires_at.slice(0, 10)}。`,
      accepted: "已接受，谢谢。按计划还款期间我们将暂停催收提醒。",
      failed: "出现问题，请重试。",
    },
  };
  const lang = new URLSearchParams(location.search).get("lang") === "zh-CN" ? "zh-CN" : "en";
  const t = T[lang];
  document.documentElement.lang = lang;
  document.title = t.title;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t[el.dataset.t]; });
  const base = location.pathname.replace(/\/$/, "");
  const $ = (id) => document.getElementById(id);
  let answer = "";

  function fail(msg) {
    $("error").textContent = msg || t.failed;
    $("error").hidden = false;
  }

  async function call(path) {
    $("error").hidden = true;
    const r = await fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ answer }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { fail(body.Message); return null; }
    return body;
  }

  function show(o) {
    $("ask").hidden = true;
    $("offer").hidden = false;
    $("offer-title").textContent = o.kind === "settlement" ? t.settlement : t.plan;
    $("offer-summary").textContent = o.kind === "settlement" ? t.settlementSummary(o) : t.planSummary(o);
    const rows = $("schedule").querySelector("tbody");
    rows.textContent = "";
    for (const d of o.schedule) {
      const tr = document.createElement("tr");
      for (const v of [d.due_on, `${d.amount} ${o.currency}`]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      rows.appendChild(tr);
    }
    $("offer-expiry").textContent = t.expiry(o);
    if (o.accepted) accepted();
  }

  function accepted() {
    $("accept").hidden = true;
    $("done").textContent = t.accepted;
    $("done").hidden = false;
  }

  $("identity").addEventListener("submit", async (e) => {
    e.preventDefault();
    answer = $("answer").value.trim();
    const o = await call("/verify");
    if (o) show(o);
  });
  $("accept").addEventListener("click", async () => {
    $("accept").disabled = true;
    const o = await call("/accept");
    $("accept").disabled = false;
    if (o) accepted();
  });
})();
