//! The message text: the template with {app}, {code} and {ttl_min} filled in. The result holds
//! the code, so it is a [`Secret`] and lives only in memory.

use crate::secret::Secret;
use std::time::Duration;

pub fn render(template: &str, app: &str, code: &Secret, ttl: Duration) -> Secret {
    let ttl_min = ttl.as_secs().div_ceil(60).max(1);
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let (before, from_brace) = rest.split_at(start);
        out.push_str(before);
        let (replacement, len) = if from_brace.starts_with("{code}") {
            (Some(code.expose().to_string()), 6)
        } else if from_brace.starts_with("{app}") {
            (Some(app.to_string()), 5)
        } else if from_brace.starts_with("{ttl_min}") {
            (Some(ttl_min.to_string()), 9)
        } else {
            (None, 1)
        };
        match replacement {
            Some(text) => out.push_str(&text),
            None => out.push('{'),
        }
        rest = from_brace.get(len..).unwrap_or("");
    }
    out.push_str(rest);
    Secret::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_placeholder() {
        let code = Secret::new("123456".into());
        let text = render(
            "Your {app} code is {code}. It expires in {ttl_min} min. {code}",
            "Shop",
            &code,
            Duration::from_secs(300),
        );
        assert_eq!(
            text.expose(),
            "Your Shop code is 123456. It expires in 5 min. 123456"
        );
    }

    #[test]
    fn rounds_minutes_up_and_leaves_other_braces() {
        let code = Secret::new("42".into());
        let text = render("{x} {code} {ttl_min}", "a", &code, Duration::from_secs(61));
        assert_eq!(text.expose(), "{x} 42 2");
        let text = render("{ttl_min}", "a", &code, Duration::from_secs(10));
        assert_eq!(text.expose(), "1");
    }
}
