//! Who fills in the form: names in the scripts the event page sees (Korean first, then
//! Latin, Japanese, Chinese, Cyrillic, Arabic, Devanagari, Vietnamese), an email
//! address, and a mobile number in the national format people type in each country.
//! Every combination is valid for the gateway; the unit tests check that against the
//! domain's own parser.

use fastrand::Rng;

/// One locale of visitors: how likely it is, and how its people write their details.
pub(crate) struct Locale {
    pub weight: u32,
    pub calling_code: &'static str,
    pub names: &'static [&'static str],
    pub mailboxes: &'static [&'static str],
    pub domains: &'static [&'static str],
    pub phone: fn(&mut Rng) -> String,
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.u8(0..10))).collect()
}

/// Picks one of several ways of typing the same digits.
fn styled(rng: &mut Rng, groups: &[&str], separators: &[&str]) -> String {
    groups.join(separators[rng.usize(..separators.len())])
}

fn korea(rng: &mut Rng) -> String {
    // 010-5xxx is only partly assigned; the other first digits are in use.
    let first = [2, 3, 4, 6, 7, 8, 9][rng.usize(..7)];
    let (a, b) = (format!("{first}{}", digits(rng, 3)), digits(rng, 4));
    styled(rng, &["010", &a, &b], &["-", "", " "])
}

fn united_states(rng: &mut Rng) -> String {
    const AREA: &[&str] = &["201", "212", "312", "415", "617", "646", "718", "917"];
    let area = AREA[rng.usize(..AREA.len())];
    let exchange = format!("{}{}", rng.u8(2..10), digits(rng, 2));
    let line = digits(rng, 4);
    match rng.u8(0..3) {
        0 => format!("({area}) {exchange}-{line}"),
        1 => format!("{area}.{exchange}.{line}"),
        _ => format!("{area}-{exchange}-{line}"),
    }
}

fn japan(rng: &mut Rng) -> String {
    let prefix = ["090", "080", "070"][rng.usize(..3)];
    let (a, b) = (
        format!("{}{}", rng.u8(1..10), digits(rng, 3)),
        digits(rng, 4),
    );
    styled(rng, &[prefix, &a, &b], &["-", ""])
}

fn germany(rng: &mut Rng) -> String {
    let prefix = ["0151", "0160", "0170", "0176"][rng.usize(..4)];
    let rest = format!("{}{}", rng.u8(1..10), digits(rng, 7));
    styled(rng, &[prefix, &rest], &[" ", "", "-"])
}

fn france(rng: &mut Rng) -> String {
    // Mobile ranges: 06 followed by 0-2 or 4-8, or 07 followed by 3-9.
    let head = if rng.bool() {
        format!("06{}", [0, 1, 2, 4, 5, 6, 7, 8][rng.usize(..8)])
    } else {
        format!("07{}", rng.u8(3..10))
    };
    let number = format!("{head}{}", digits(rng, 7));
    let pairs: Vec<&str> = (0..5).map(|i| &number[2 * i..2 * i + 2]).collect();
    styled(rng, &pairs, &[" ", ".", ""])
}

fn united_kingdom(rng: &mut Rng) -> String {
    let prefix = ["07400", "07712", "07800", "07957"][rng.usize(..4)];
    let rest = digits(rng, 6);
    styled(rng, &[prefix, &rest], &[" ", ""])
}

fn vietnam(rng: &mut Rng) -> String {
    let prefix = ["091", "098", "090"][rng.usize(..3)];
    let (a, b) = (digits(rng, 3), digits(rng, 4));
    styled(rng, &[prefix, &a, &b], &[" ", "", "."])
}

fn india(rng: &mut Rng) -> String {
    let first = format!("9{}", digits(rng, 4));
    let second = digits(rng, 5);
    styled(rng, &[&first, &second], &[" ", ""])
}

fn brazil(rng: &mut Rng) -> String {
    let area = ["11", "21", "31", "41"][rng.usize(..4)];
    let (a, b) = (format!("9{}", digits(rng, 4)), digits(rng, 4));
    match rng.u8(0..2) {
        0 => format!("({area}) {a}-{b}"),
        _ => format!("{area}{a}{b}"),
    }
}

fn china(rng: &mut Rng) -> String {
    let prefix = ["138", "139", "186", "150"][rng.usize(..4)];
    let (a, b) = (digits(rng, 4), digits(rng, 4));
    styled(rng, &[prefix, &a, &b], &[" ", "", "-"])
}

fn russia(rng: &mut Rng) -> String {
    let prefix = ["912", "916", "903"][rng.usize(..3)];
    let (a, b, c) = (digits(rng, 3), digits(rng, 2), digits(rng, 2));
    format!("{prefix} {a}-{b}-{c}")
}

fn emirates(rng: &mut Rng) -> String {
    let prefix = ["050", "052", "055"][rng.usize(..3)];
    let (a, b) = (digits(rng, 3), digits(rng, 4));
    styled(rng, &[prefix, &a, &b], &[" ", ""])
}

/// Who visits, by weight. Laid out by hand as a table (rustfmt would put one name per
/// line).
#[rustfmt::skip]
pub(crate) const LOCALES: &[Locale] = &[
    Locale {
        weight: 40, calling_code: "+82", phone: korea,
        names: &["홍길동", "김민준", "이서연", "박지호", "최하은", "정도윤", "강서윤", "조예준",
                 "윤지우", "장수아", "임시우", "한지민", "오현우", "서유진", "남궁민", "황보은지"],
        mailboxes: &["gildong", "minjun.kim", "seoyeon.lee", "jiho.park", "haeun_choi", "doyun93"],
        domains: &["example.co.kr", "mail.example.kr", "example.com"],
    },
    Locale {
        weight: 12, calling_code: "+1", phone: united_states,
        names: &["Jane Doe", "John Smith", "María José García", "Zoë O'Brien",
                 "D'Angelo Washington", "Chloé Tremblay", "Nguyen Van An"],
        mailboxes: &["jane.doe", "jsmith", "mj.garcia", "zoe.obrien", "dangelo.w"],
        domains: &["example.com", "example.org", "mail.example.net"],
    },
    Locale {
        weight: 8, calling_code: "+81", phone: japan,
        names: &["山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 さくら", "タナカ ユウキ"],
        mailboxes: &["yamada.taro", "hanako.sato", "ichiro", "sakura.t"],
        domains: &["example.jp", "例え.jp"],
    },
    Locale {
        weight: 6, calling_code: "+49", phone: germany,
        names: &["Jürgen Müller", "Lukas Weiß", "Anna-Lena Schröder", "Øystein Åberg"],
        mailboxes: &["juergen.mueller", "lukas.weiss", "al.schroeder"],
        domains: &["example.de"],
    },
    Locale {
        weight: 5, calling_code: "+33", phone: france,
        names: &["François Dubois", "Élodie Lefèvre", "Jean-Noël Garçon"],
        mailboxes: &["francois.dubois", "elodie.l", "jn.garcon"],
        domains: &["example.fr"],
    },
    Locale {
        weight: 5, calling_code: "+44", phone: united_kingdom,
        names: &["Siobhán Murphy", "Oliver Brown", "Ngozi Okafor"],
        mailboxes: &["siobhan.m", "oliver.brown", "ngozi.okafor"],
        domains: &["example.co.uk"],
    },
    Locale {
        weight: 5, calling_code: "+84", phone: vietnam,
        names: &["Nguyễn Thị Lan", "Trần Văn Hùng", "Phạm Minh Châu"],
        mailboxes: &["lan.nguyen", "hung.tran", "chau.pham"],
        domains: &["example.vn"],
    },
    Locale {
        weight: 5, calling_code: "+91", phone: india,
        names: &["प्रिया शर्मा", "Rahul Gupta", "அருண் குமார்"],
        mailboxes: &["priya.sharma", "rahul.g", "arun.kumar"],
        domains: &["example.in"],
    },
    Locale {
        weight: 5, calling_code: "+55", phone: brazil,
        names: &["João Conceição", "Ana Beatriz Sousa", "Luís Araújo"],
        mailboxes: &["joao.c", "anabeatriz", "luis.araujo"],
        domains: &["example.com.br"],
    },
    Locale {
        weight: 4, calling_code: "+86", phone: china,
        names: &["王伟", "李娜", "張偉"],
        mailboxes: &["wang.wei", "li.na", "zhang.wei"],
        domains: &["example.cn"],
    },
    Locale {
        weight: 3, calling_code: "+7", phone: russia,
        names: &["Алексей Иванов", "Ольга Смирнова"],
        mailboxes: &["alexey.ivanov", "olga.s"],
        domains: &["example.ru"],
    },
    Locale {
        weight: 2, calling_code: "+971", phone: emirates,
        names: &["محمد علي", "فاطمة الزهراء"],
        mailboxes: &["mohammed.ali", "fatima.z"],
        domains: &["example.ae"],
    },
];

pub(crate) fn pick_locale(rng: &mut Rng) -> &'static Locale {
    let total: u32 = LOCALES.iter().map(|l| l.weight).sum();
    let mut roll = rng.u32(..total);
    for locale in LOCALES {
        if roll < locale.weight {
            return locale;
        }
        roll -= locale.weight;
    }
    &LOCALES[0]
}

pub(crate) fn pick<'a>(rng: &mut Rng, items: &'a [&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// A name as typed: now and then with stray spaces around it (the gateway trims).
pub(crate) fn name(rng: &mut Rng, locale: &Locale) -> String {
    let name = pick(rng, locale.names);
    if rng.u8(..20) == 0 {
        format!("  {name} ")
    } else {
        name.to_owned()
    }
}

/// `mailbox+lt<lead>@domain`: the plus tag marks the lead, so a stored row can be traced
/// back to the submission that produced it (see `reconcile`).
pub(crate) fn email(rng: &mut Rng, locale: &Locale, lead_no: u64) -> String {
    format!(
        "{}{}{lead_no}@{}",
        pick(rng, locale.mailboxes),
        super::EMAIL_TAG,
        pick(rng, locale.domains)
    )
}
