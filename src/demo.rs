//! Sample data for `rolecall demo`: realistic users spread over the seeded roles,
//! the same every time for the same count (a fixed-seed generator, no clock).

use crate::domain::user::Profile;
use crate::store::NewUser;

const FIRST: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Ben", "Carla", "Chen", "Chiara", "Dario", "Divya", "Elena",
    "Emil", "Fatima", "Femi", "Giulia", "Goran", "Hana", "Hugo", "Ines", "Ivan", "Jana", "Jonas",
    "Kai", "Kofi", "Lars", "Lena", "Luca", "Maya", "Mei", "Milan", "Nadia", "Noah", "Olga", "Omar",
    "Paula", "Priya", "Rafael", "Rosa", "Sami", "Sara", "Tomas", "Uma", "Vera", "Wei", "Yara",
    "Yusuf", "Zoe", "Zeynep",
];

const LAST: &[&str] = &[
    "Smith", "Rossi", "Müller", "García", "Nowak", "Silva", "Kim", "Nguyen", "Okafor", "Haddad",
    "Jensen", "Kowalski", "Bianchi", "Dubois", "Novak", "Tanaka", "Sato", "Ivanova", "Andersen",
    "Costa", "Mehta", "Khan", "Moreau", "Schmidt", "Ferrari", "Lopez", "Horvat", "Popescu",
    "Yilmaz", "Larsen", "Fischer", "Romano", "Petrov", "Berg",
];

const POSITIONS: &[&str] = &[
    "Marketing Manager",
    "Campaign Specialist",
    "Data Analyst",
    "Support Engineer",
    "Content Writer",
    "Designer",
    "Sales Lead",
    "Intern",
    "Deliverability Engineer",
    "Product Manager",
    "Account Executive",
    "",
];

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Rome",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Africa/Lagos",
];

const LANGUAGES: &[&str] = &["en", "it", "de", "en-GB", "pt-BR", "es", "fr", "ja"];

const DOMAINS: &[&str] = &["example.com", "example.org", "mail.example.net"];

/// Role shares, in percent: most users read, few administer.
const ROLES: &[(&str, u64)] = &[
    ("Read Only", 40),
    ("Basic Access", 25),
    ("Campaign Manager", 20),
    ("Full Access", 10),
    ("Administrator", 5),
];

/// Roles the demo adds so its packages have something to give: name, description,
/// grant specs.
pub const ROLES_ADDED: &[(&str, &str, &[&str])] = &[
    (
        "Exporter",
        "Downloads contacts, segments and reports.",
        &[
            "contacts.export",
            "segmentation.export",
            "statistics.export",
        ],
    ),
    (
        "Deliverability",
        "Runs sending infrastructure and suppression lists.",
        &["sending_nodes", "sending_domains", "suppression"],
    ),
];

/// One package per department (seed 001's PACKAGE; a group or team elsewhere): name,
/// description and the roles it includes.
pub const PACKAGES: &[(&str, &str, &[&str])] = &[
    (
        "Marketing EU",
        "Campaign staff in Europe.",
        &["Campaign Manager"],
    ),
    (
        "Marketing US",
        "Campaign staff in the Americas.",
        &["Campaign Manager", "Exporter"],
    ),
    (
        "Data Team",
        "Reports and exports.",
        &["Exporter", "Read Only"],
    ),
    ("Deliverability", "Keeps mail flowing.", &["Deliverability"]),
    ("Support Desk", "Answers customers.", &["Basic Access"]),
];

/// Which packages each sample user is in: none to three, the same every time for
/// the same users. The owner is in none (their access is Administrator's anyway).
pub fn memberships(users: &[NewUser]) -> Vec<(String, Vec<String>)> {
    let mut rng = Rng(0x5EED_0000_0000_0012);
    users
        .iter()
        .skip(1)
        .filter_map(|u| {
            let count = (rng.next() % 4) as usize;
            let mut names: Vec<String> = Vec::with_capacity(count);
            while names.len() < count {
                let (name, ..) = PACKAGES[(rng.next() % PACKAGES.len() as u64) as usize];
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
            (!names.is_empty()).then(|| (u.username.clone(), names))
        })
        .collect()
}

/// xorshift64*: small, fast and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ü' => 'u',
            'í' | 'ì' => 'i',
            'á' | 'à' => 'a',
            c => c.to_ascii_lowercase(),
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// `count` sample users; the first is `owner` (it becomes the owner), the rest are
/// spread over the roles. About 3% are marked to be disabled (see [`disabled`]).
pub fn users(count: usize) -> Vec<NewUser> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return out;
    }
    out.push(NewUser {
        username: "owner".into(),
        profile: Profile {
            email: "owner@example.com".into(),
            first_name: "Olivia".into(),
            last_name: "Owner".into(),
            position: "Head of Operations".into(),
            ..Profile::default()
        },
        role: None,
        password: None,
        packages: Default::default(),
    });
    for n in 1..count {
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let username = format!("{}.{}{n}", ascii_lower(first), ascii_lower(last));
        let roll = rng.next() % 100;
        let mut acc = 0;
        let role = ROLES
            .iter()
            .find(|(_, share)| {
                acc += share;
                roll < acc
            })
            .map_or("Read Only", |(r, _)| r);
        out.push(NewUser {
            profile: Profile {
                email: format!("{username}@{}", rng.pick(DOMAINS)),
                first_name: first.into(),
                last_name: last.into(),
                position: rng.pick(POSITIONS).into(),
                signature: String::new(),
                timezone: rng.pick(ZONES).into(),
                language: rng.pick(LANGUAGES).into(),
            },
            username,
            role: Some(role.into()),
            password: None,
            packages: Default::default(),
        });
    }
    out
}

/// The usernames of `users` the demo disables: every 33rd, never the owner.
pub fn disabled(users: &[NewUser]) -> Vec<String> {
    users
        .iter()
        .skip(1)
        .step_by(33)
        .map(|u| u.username.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_count_gives_the_same_users() {
        let a = users(500);
        let b = users(500);
        assert_eq!(a.len(), 500);
        assert!(
            a.iter()
                .zip(&b)
                .all(|(x, y)| x.username == y.username && x.profile == y.profile)
        );
        let mut names: Vec<&str> = a.iter().map(|u| u.username.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 500, "usernames are unique");
    }

    #[test]
    fn every_generated_user_is_valid() {
        for u in users(300) {
            crate::domain::validate::username(&u.username).unwrap();
            u.profile.clone().validated().unwrap();
        }
    }

    #[test]
    fn members_are_in_zero_to_three_distinct_packages() {
        let users = users(400);
        let m = memberships(&users);
        assert_eq!(m, memberships(&users), "the same every time");
        assert!(m.iter().all(|(_, p)| (1..=3).contains(&p.len())));
        assert!(m.iter().all(|(_, p)| {
            let mut q = p.clone();
            q.sort();
            q.dedup();
            q.len() == p.len()
        }));
        assert!(
            m.iter().all(|(u, _)| *u != users[0].username),
            "not the owner"
        );
        assert!(
            m.len() > 250 && m.len() < 350,
            "about three in four: {}",
            m.len()
        );
    }
}
