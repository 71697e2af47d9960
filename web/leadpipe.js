// leadpipe.js: posts a lead form to the leadpipe gateway (POST /v1/leads).
//
//   import { mount } from "./leadpipe.js";
//   mount(document.querySelector("form[data-leadpipe]"));
//
// The form's inputs carry the API's field names (name, email, country_code,
// phone_number, privacy_consent; optional hidden utm_* inputs), and a honeypot text
// input named `website`. The gateway URL comes from options.api, the form's
// data-api, or <meta name="leadpipe-api">. One Idempotency-Key per submission,
// reused by every retry of it: however often it is retried, the lead is stored once.
// 503, 429 and network errors are retried with exponential backoff and jitter,
// honouring Retry-After; 422 field errors are shown next to their fields. The form
// dispatches leadpipe:attempt, leadpipe:response, leadpipe:retry, leadpipe:success,
// leadpipe:invalid and leadpipe:failed events (CustomEvent, details in `detail`).

const FIELDS = ["name", "email", "country_code", "phone_number", "privacy_consent"];
const TRACKING = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "page_url"];
const HONEYPOT = "website";
const RETRYABLE = new Set([408, 429, 502, 503, 504]);
const DEFAULTS = {
  maxAttempts: 6, // per round; then the visitor gets a retry button (same key)
  baseDelayMs: 1000,
  maxDelayMs: 15000,
  maxRetryAfterMs: 60000, // a longer Retry-After ends the round at once
  timeoutMs: 20000,
  clientChecks: true,
};

const MESSAGES = {
  ko: {
    "name.required": "이름을 입력해 주세요.",
    "name.too_long": "이름은 100자 이내로 입력해 주세요.",
    "email.required": "이메일 주소를 입력해 주세요.",
    "email.invalid_format": "올바른 이메일 주소를 입력해 주세요. 예: gildong@example.com",
    "email.too_long": "이메일 주소는 254자 이내로 입력해 주세요.",
    "country_code.required": "국가 번호를 선택해 주세요.",
    "country_code.unknown_calling_code": "국가 번호를 다시 선택해 주세요.",
    "phone_number.required": "휴대폰 번호를 입력해 주세요.",
    "phone_number.invalid_format": "숫자와 하이픈(-)만 입력해 주세요. 예: 010-1234-5678",
    "phone_number.invalid_phone_number": "선택한 국가의 올바른 번호를 입력해 주세요. 예: 010-1234-5678",
    "privacy_consent.consent_required": "개인정보 수집·이용에 동의해야 등록할 수 있습니다.",
    invalid_characters: "사용할 수 없는 문자가 들어 있습니다.",
    invalid: "입력 내용을 확인해 주세요.",
    page_problem: "이 페이지의 설정 문제로 등록할 수 없습니다. 잠시 후 다시 시도해 주세요.",
    summary: (n) => `입력 내용 ${n}건을 확인해 주세요.`,
    sending: "보내는 중입니다…",
    retrying: (s, n, max) => `접속이 많아 ${s}초 뒤 다시 시도합니다… (${n}/${max})`,
    failed: "지금은 등록할 수 없습니다. 입력한 내용은 그대로 있으니 잠시 후 다시 시도해 주세요.",
    retry: "다시 시도",
    success: "등록이 완료되었습니다.",
    reference: "접수 번호",
  },
  en: {
    "name.required": "Enter your name.",
    "name.too_long": "Your name must be 100 characters or fewer.",
    "email.required": "Enter your email address.",
    "email.invalid_format": "Enter an email address like name@example.com.",
    "email.too_long": "Your email address must be 254 characters or fewer.",
    "country_code.required": "Choose a country calling code.",
    "country_code.unknown_calling_code": "Choose a country calling code from the list.",
    "phone_number.required": "Enter your mobile phone number.",
    "phone_number.invalid_format": "Use digits and dashes only, like 010-1234-5678.",
    "phone_number.invalid_phone_number": "Enter a valid number for the chosen country, like 010-1234-5678.",
    "privacy_consent.consent_required": "You must agree to the collection and use of your personal data to register.",
    invalid_characters: "Remove the characters that are not allowed.",
    invalid: "Check this field.",
    page_problem: "This page cannot register you right now because of a setup problem. Try again later.",
    summary: (n) => (n === 1 ? "There is a problem to fix." : `There are ${n} problems to fix.`),
    sending: "Sending…",
    retrying: (s, n, max) => `We are busy. Trying again in ${s} s… (${n}/${max})`,
    failed: "We could not register you right now. Your details are kept: try again in a moment.",
    retry: "Try again",
    success: "You are registered.",
    reference: "Reference",
  },
};
// Codes that mean the same to a visitor.
const ALIASES = { empty: "required", invalid_type: "invalid_format" };

/** A fresh Idempotency-Key: a random (version 4) UUID. */
export function newIdempotencyKey(cryptoApi = globalThis.crypto) {
  // randomUUID exists only in secure contexts (https, localhost).
  if (typeof cryptoApi.randomUUID === "function") return cryptoApi.randomUUID();
  const bytes = cryptoApi.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Seconds of a Retry-After header (delay-seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * How long to wait after failed attempt `attempt` (1-based): exponential backoff with
 * "equal jitter" (half fixed, half random), and never less than Retry-After.
 */
export function retryDelay(attempt, retryAfterSecs, options = DEFAULTS, random = Math.random) {
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  const backoff = exponential / 2 + random() * (exponential / 2);
  if (retryAfterSecs == null) return Math.round(backoff);
  const floor = retryAfterSecs * 1000;
  // Spread the visitors a busy server sent away at the same moment.
  return Math.round(Math.max(floor + random() * Math.min(1000, floor / 4), backoff));
}

/** Light checks for obvious mistakes; the gateway stays the authority. */
export function checkFields(values) {
  const errors = [];
  const add = (field, code) => errors.push({ field, code });
  if (!values.name.trim()) add("name", "required");
  const email = values.email.trim();
  if (!email) add("email", "required");
  else if (!/^[^\s@]+@[^\s@]+$/.test(email)) add("email", "invalid_format");
  if (!values.country_code) add("country_code", "required");
  const phone = values.phone_number.trim();
  const digits = phone.replace(/\D/g, "").length;
  if (!phone) add("phone_number", "required");
  else if (!/^[\d\s().+-]+$/.test(phone)) add("phone_number", "invalid_format");
  else if (digits < 4 || digits > 17) add("phone_number", "invalid_phone_number");
  if (!values.privacy_consent) add("privacy_consent", "consent_required");
  return errors;
}

// A tracking value the gateway accepts: trimmed, no control characters, bounded.
function label(value, maxChars) {
  const clean = String(value ?? "")
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, "")
    .trim();
  return Array.from(clean).slice(0, maxChars).join("").trim();
}

function pageUrl(location) {
  // Without the query: it may carry personal data, and the UTM values are sent apart.
  if (!/^https?:$/.test(location.protocol)) return "";
  const url = `${location.origin}${location.pathname}`;
  return url.length <= 2048 ? url : "";
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wires `form` to the gateway; returns a controller ({ submit, retry, render }). */
export function mount(form, options = {}) {
  if (form.leadpipe) return form.leadpipe;
  const settings = { ...DEFAULTS, ...options };
  const meta = document.querySelector('meta[name="leadpipe-api"]');
  const api = (settings.api || form.dataset.api || meta?.content || "").replace(/\/+$/, "");
  const input = (name) => form.elements.namedItem(name);
  const summary = form.querySelector("[data-leadpipe-summary]");
  const status = form.querySelector("[data-leadpipe-status]");
  const retryBox = form.querySelector("[data-leadpipe-retry]");
  const submitButton = form.querySelector('[type="submit"]');

  // Hidden UTM inputs take their values from the page's query.
  const query = new URLSearchParams(location.search);
  for (const name of TRACKING.slice(0, 5)) {
    const field = input(name);
    if (field && query.has(name)) field.value = label(query.get(name), 200);
  }

  let state = { phase: "idle", errors: [] };
  let pending = null; // { key, body, json }: the submission in hand, until answered for good
  let busy = false;

  const lang = () => ((form.closest("[lang]")?.lang || "ko").toLowerCase().startsWith("en") ? "en" : "ko");
  const text = (key, ...args) => {
    const value = MESSAGES[lang()][key];
    return typeof value === "function" ? value(...args) : value;
  };
  const errorText = ({ field, code, message }) => {
    const normal = ALIASES[code] || code;
    const messages = MESSAGES[lang()];
    if (!FIELDS.includes(field)) return messages.page_problem;
    return messages[`${field}.${normal}`] || messages[normal] || message || messages.invalid;
  };
  const emit = (type, detail) => form.dispatchEvent(new CustomEvent(`leadpipe:${type}`, { detail }));
  const maxAttempts = () => Number(form.dataset.maxAttempts) || settings.maxAttempts;

  function values() {
    return {
      name: input("name")?.value ?? "",
      email: input("email")?.value ?? "",
      country_code: input("country_code")?.value ?? "",
      phone_number: input("phone_number")?.value ?? "",
      privacy_consent: Boolean(input("privacy_consent")?.checked),
    };
  }

  function body(fields) {
    const lead = {
      name: fields.name.trim(),
      email: fields.email.trim(),
      country_code: fields.country_code,
      phone_number: fields.phone_number.trim(),
      privacy_consent: fields.privacy_consent,
    };
    const campaign = label(input("campaign")?.value || form.dataset.campaign, 64);
    if (campaign) lead.campaign = campaign;
    for (const name of TRACKING.slice(0, 5)) {
      const value = label(input(name)?.value, 200);
      if (value) lead[name] = value;
    }
    const url = pageUrl(location);
    if (url) lead.page_url = url;
    // The version of the consent text the visitor was shown, from the element that
    // shows it (`data-consent-version`): stored with the lead as proof of consent.
    const version = label(form.querySelector("[data-consent-version]")?.dataset.consentVersion, 64);
    if (version) lead.consent_text_version = version;
    // Humans leave the honeypot empty; only a filled one is sent.
    const honeypot = input(HONEYPOT)?.value;
    if (honeypot) lead[HONEYPOT] = honeypot;
    return lead;
  }

  function errorSlot(field) {
    let slot = form.querySelector(`[data-error-for="${field}"]`);
    const control = input(field);
    if (!slot && control instanceof HTMLElement) {
      slot = document.createElement("p");
      slot.className = "field-error";
      slot.dataset.errorFor = field;
      control.insertAdjacentElement("afterend", slot);
    }
    if (slot && !slot.id) slot.id = `${field}-error`;
    return slot;
  }

  function renderErrors() {
    const shown = new Set();
    for (const field of FIELDS) {
      const control = input(field);
      const slot = errorSlot(field);
      const error = state.errors.find((e) => e.field === field);
      if (slot) slot.textContent = error ? errorText(error) : "";
      if (!(control instanceof HTMLElement)) continue;
      const described = new Set((control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean));
      if (error) {
        control.setAttribute("aria-invalid", "true");
        if (slot) described.add(slot.id);
      } else {
        control.removeAttribute("aria-invalid");
      }
      if (described.size) control.setAttribute("aria-describedby", [...described].join(" "));
    }
    if (!summary) return;
    const list = summary.querySelector("ul") || summary.appendChild(document.createElement("ul"));
    list.replaceChildren();
    for (const error of state.errors) {
      const message = errorText(error);
      if (shown.has(message)) continue;
      shown.add(message);
      const item = document.createElement("li");
      const control = input(error.field);
      if (control instanceof HTMLElement && control.id) {
        const link = document.createElement("a");
        link.href = `#${control.id}`;
        link.textContent = message;
        link.addEventListener("click", (event) => {
          event.preventDefault();
          control.focus();
        });
        item.append(link);
      } else {
        item.textContent = message;
      }
      list.append(item);
    }
    summary.hidden = state.errors.length === 0;
  }

  function render() {
    form.dataset.state = state.phase;
    form.setAttribute("aria-busy", String(busy));
    submitButton?.setAttribute("aria-disabled", String(busy));
    renderErrors();
    if (retryBox) {
      retryBox.hidden = state.phase !== "failed";
      const button = retryBox.querySelector("button");
      if (button) button.textContent = text("retry");
    }
    if (!status) return;
    status.dataset.kind = state.phase;
    switch (state.phase) {
      case "sending":
        status.textContent = text("sending");
        break;
      case "retrying":
        status.textContent = text("retrying", Math.max(1, Math.round(state.delayMs / 1000)), state.attempt, maxAttempts());
        break;
      case "failed":
        status.textContent = text("failed");
        break;
      case "invalid":
        status.textContent = text("summary", state.errors.length);
        break;
      case "done": {
        const title = document.createElement("strong");
        title.textContent = text("success");
        const reference = document.createElement("span");
        reference.className = "reference";
        reference.append(`${text("reference")}: `);
        const id = document.createElement("code");
        id.dataset.leadId = state.id;
        id.textContent = state.id;
        reference.append(id);
        status.replaceChildren(title, " ", reference);
        break;
      }
      default:
        status.textContent = "";
    }
  }

  function set(next) {
    state = { errors: [], ...next };
    render();
  }

  function showInvalid(errors) {
    set({ phase: "invalid", errors });
    emit("invalid", { errors });
    summary?.focus();
  }

  async function attempt(number) {
    emit("attempt", { attempt: number, key: pending.key });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), settings.timeoutMs);
    try {
      const response = await fetch(`${api}/v1/leads`, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json", "Idempotency-Key": pending.key },
        body: pending.json,
        signal: controller.signal,
      });
      const answer = await response.json().catch(() => ({}));
      const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
      emit("response", { attempt: number, status: response.status, retryAfter });
      return { status: response.status, answer, retryAfter };
    } catch {
      emit("response", { attempt: number, status: 0 });
      return { status: 0, answer: {}, retryAfter: null }; // network error, CORS refusal or timeout
    } finally {
      clearTimeout(timer);
    }
  }

  // One round of attempts of the pending submission.
  async function send() {
    busy = true;
    set({ phase: "sending" });
    try {
      for (let number = 1; ; number += 1) {
        const { status: code, answer, retryAfter } = await attempt(number);
        if (code === 202 || (code >= 200 && code < 300 && answer.id)) {
          pending = null;
          set({ phase: "done", id: String(answer.id || "") });
          emit("success", { id: answer.id });
          form.querySelector("[data-leadpipe-fields]")?.setAttribute("hidden", "");
          status?.focus();
          return;
        }
        if (code === 422 && Array.isArray(answer.errors)) {
          const tracking = answer.errors.filter((e) => TRACKING.includes(e.field));
          if (tracking.length && tracking.length === answer.errors.length) {
            // A bad tracking value is not the visitor's to fix: send the lead without it.
            for (const { field } of tracking) delete pending.body[field];
            pending.json = JSON.stringify(pending.body);
            continue;
          }
          pending = null;
          showInvalid(answer.errors);
          return;
        }
        const retryAfterMs = retryAfter == null ? 0 : retryAfter * 1000;
        if (!RETRYABLE.has(code) && code !== 0) {
          pending = null;
          showInvalid([{ field: "", code: answer.code || "unexpected" }]);
          return;
        }
        if (number >= maxAttempts() || retryAfterMs > settings.maxRetryAfterMs) {
          set({ phase: "failed" });
          emit("failed", { attempts: number, status: code });
          return;
        }
        const delayMs = retryDelay(number, retryAfter, settings);
        set({ phase: "retrying", attempt: number, delayMs });
        emit("retry", { attempt: number, status: code, delayMs });
        await wait(delayMs);
      }
    } finally {
      busy = false;
      render();
    }
  }

  function submit() {
    if (busy || state.phase === "done") return;
    const fields = values();
    const errors = settings.clientChecks && form.dataset.clientChecks !== "off" ? checkFields(fields) : [];
    if (errors.length) {
      showInvalid(errors);
      return;
    }
    const lead = body(fields);
    const json = JSON.stringify(lead);
    // The same lead sent again after a failed round keeps its key; a changed one is new.
    if (!pending || pending.json !== json) pending = { key: newIdempotencyKey(), body: lead, json };
    send();
  }

  function retry() {
    if (!busy && pending) send();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  retryBox?.querySelector("button")?.addEventListener("click", retry);
  render();
  form.leadpipe = { submit, retry, render };
  return form.leadpipe;
}
