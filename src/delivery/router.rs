//! Which channels may carry a message: config order, limited by each channel's `recipients`
//! prefixes and by the channel a request asked for. Pure data; the dispatcher adds liveness.

/// The name clients use to ask for "any SMS channel".
pub const ANY_SMS: &str = "sms";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub channel: String,
    /// E.164 prefixes this channel serves; empty serves everyone.
    pub prefixes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("there is no channel named {0:?}")]
    UnknownChannel(String),
    #[error("no channel serves {0}")]
    NoChannel(String),
}

#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Router {
        Router { routes }
    }

    /// Indices (into the config order) of the channels that may carry a message to
    /// `recipient`, as asked by `requested` (`None` or "sms" for any).
    pub fn candidates(
        &self,
        recipient: &str,
        requested: Option<&str>,
    ) -> Result<Vec<usize>, RouteError> {
        let requested = requested.filter(|r| *r != ANY_SMS);
        if let Some(name) = requested
            && !self.routes.iter().any(|r| r.channel == name)
        {
            return Err(RouteError::UnknownChannel(name.to_string()));
        }
        let found: Vec<usize> = self
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| requested.is_none_or(|name| r.channel == name))
            .filter(|(_, r)| {
                r.prefixes.is_empty() || r.prefixes.iter().any(|p| recipient.starts_with(p))
            })
            .map(|(i, _)| i)
            .collect();
        if found.is_empty() {
            return Err(RouteError::NoChannel(recipient.to_string()));
        }
        Ok(found)
    }

    /// The name of the channel a new message would try first.
    pub fn first(&self, recipient: &str, requested: Option<&str>) -> Result<&str, RouteError> {
        let first = self.candidates(recipient, requested)?;
        Ok(first
            .first()
            .and_then(|i| self.routes.get(*i))
            .map(|r| r.channel.as_str())
            .unwrap_or_default())
    }

    pub fn name(&self, index: usize) -> Option<&str> {
        self.routes.get(index).map(|r| r.channel.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(vec![
            Route {
                channel: "tz".into(),
                prefixes: vec!["+255".into()],
            },
            Route {
                channel: "ke".into(),
                prefixes: vec!["+254".into()],
            },
            Route {
                channel: "all".into(),
                prefixes: vec![],
            },
        ])
    }

    #[test]
    fn routes_by_prefix_in_config_order() {
        let r = router();
        assert_eq!(r.candidates("+255712345678", None).unwrap(), vec![0, 2]);
        assert_eq!(
            r.candidates("+254712345678", Some("sms")).unwrap(),
            vec![1, 2]
        );
        assert_eq!(r.candidates("+447911123456", None).unwrap(), vec![2]);
        assert_eq!(r.first("+255712345678", None).unwrap(), "tz");
    }

    #[test]
    fn a_requested_channel_is_the_only_candidate() {
        let r = router();
        assert_eq!(r.candidates("+255712345678", Some("all")).unwrap(), vec![2]);
        assert_eq!(
            r.candidates("+254712345678", Some("tz")),
            Err(RouteError::NoChannel("+254712345678".into()))
        );
        assert_eq!(
            r.candidates("+2547", Some("nope")),
            Err(RouteError::UnknownChannel("nope".into()))
        );
    }

    #[test]
    fn no_route_is_an_error() {
        let r = Router::new(vec![Route {
            channel: "tz".into(),
            prefixes: vec!["+255".into()],
        }]);
        assert!(matches!(
            r.candidates("+254712345678", None),
            Err(RouteError::NoChannel(_))
        ));
    }
}
