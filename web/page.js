// The event page: Korean and English texts, the language toggle, and the lead form
// wired to the gateway by leadpipe.js.
import { mount } from "./leadpipe.js";

const TEXTS = {
  ko: {
    title: "2026 봄 이벤트 사전 등록 · leadpipe",
    heading: "2026 봄 이벤트 사전 등록",
    intro: "사전 등록하신 분께 행사 안내와 입장 코드를 보내 드립니다. 1분이면 충분합니다.",
    required: "모든 항목은 필수입니다.",
    summary_title: "입력 내용을 확인해 주세요",
    name: "이름",
    email: "이메일",
    email_hint: "행사 안내를 이 주소로 보내 드립니다.",
    phone: "휴대폰 번호",
    country_code: "국가 번호",
    phone_number: "번호",
    phone_hint: "예: 010-1234-5678",
    consent: "[필수] 개인정보 수집·이용에 동의합니다. 수집 항목: 이름, 이메일, 휴대폰 번호. 목적: 행사 안내. 보유 기간: 행사 종료 후 1년.",
    consent_version: "동의서 버전",
    submit: "등록하기",
    noscript: "등록하려면 JavaScript를 켜 주세요.",
    toggle: "English",
  },
  en: {
    title: "Spring event 2026: register · leadpipe",
    heading: "Register for the spring event 2026",
    intro: "Register now and we will send you the event details and your entry code. It takes a minute.",
    required: "All fields are required.",
    summary_title: "Check what you entered",
    name: "Name",
    email: "Email",
    email_hint: "We will send the event details to this address.",
    phone: "Mobile phone",
    country_code: "Country code",
    phone_number: "Number",
    phone_hint: "For example 010-1234-5678",
    consent: "[Required] I agree to the collection and use of my personal data. Collected: name, email, mobile number. Purpose: event information. Kept for: one year after the event.",
    consent_version: "consent version",
    submit: "Register",
    noscript: "Turn on JavaScript to register.",
    toggle: "한국어",
  },
};

function countryNames(lang) {
  if (typeof Intl.DisplayNames !== "function") return;
  const names = new Intl.DisplayNames([lang], { type: "region" });
  for (const option of document.querySelectorAll("option[data-regions]")) {
    const regions = option.dataset.regions.split(" ").map((code) => names.of(code));
    option.textContent = `${option.value} ${regions.join(" / ")}`;
  }
}

function apply(lang) {
  const texts = TEXTS[lang];
  document.documentElement.lang = lang;
  document.title = texts.title;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = texts[element.dataset.i18n];
  }
  const toggle = document.querySelector("[data-lang-toggle]");
  toggle.textContent = texts.toggle;
  toggle.lang = lang === "ko" ? "en" : "ko";
  countryNames(lang);
}

const requested = new URLSearchParams(location.search).get("lang");
let lang = requested === "en" || requested === "ko" ? requested : document.documentElement.lang === "en" ? "en" : "ko";
apply(lang);

const form = mount(document.querySelector("form[data-leadpipe]"));
document.querySelector("[data-lang-toggle]").addEventListener("click", () => {
  lang = lang === "ko" ? "en" : "ko";
  apply(lang);
  form.render();
});
