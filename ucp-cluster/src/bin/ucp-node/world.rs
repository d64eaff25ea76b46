//! The tenants a node serves: one line per tenant's Okta org and one for the products, as
//! the testkit's `scale_world` announces them.
//!
//! ```text
//! TENANT <i> <org url> <okta token>
//! PRODUCTS <products url> <entra token url>
//! ```

use secrecy::SecretString;

/// One tenant's org.
pub struct Tenant {
    pub index: usize,
    pub url: String,
    pub token: SecretString,
}

/// Every tenant and where their products are.
pub struct World {
    pub tenants: Vec<Tenant>,
    pub products_url: String,
    pub token_url: String,
}

impl World {
    /// Read the lines of a world file; an unreadable line names itself (never the token).
    pub fn parse(text: &str) -> Result<World, String> {
        let mut world = World {
            tenants: Vec::new(),
            products_url: String::new(),
            token_url: String::new(),
        };
        for (number, line) in text.lines().enumerate() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["TENANT", index, url, token] => world.tenants.push(Tenant {
                    index: index
                        .parse()
                        .map_err(|_| format!("line {}: tenant index {index:?}", number + 1))?,
                    url: url.to_string(),
                    token: SecretString::from(token.to_string()),
                }),
                ["PRODUCTS", url, token_url] => {
                    world.products_url = url.to_string();
                    world.token_url = token_url.to_string();
                }
                // The world's other lines (READY, reports).
                _ => {}
            }
        }
        if world.products_url.is_empty() {
            return Err("no PRODUCTS line".into());
        }
        Ok(world)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn the_worlds_lines_give_tenants_and_products_and_other_lines_are_skipped() {
        let text = "TENANT 0 http://127.0.0.1:4000 t0\nTENANT 12 http://127.0.0.1:4001 t12\n\
                    PRODUCTS http://127.0.0.1:5000 http://127.0.0.1:5001/token\nREADY\n";
        let world = World::parse(text).expect("a world");
        assert_eq!(world.tenants.len(), 2);
        assert_eq!(world.tenants[1].index, 12);
        assert_eq!(world.tenants[1].token.expose_secret(), "t12");
        assert_eq!(world.products_url, "http://127.0.0.1:5000");
    }

    #[test]
    fn a_bad_index_or_no_products_is_an_error_without_the_token() {
        let error = World::parse("TENANT x http://a secret-token\nPRODUCTS u t\n")
            .err()
            .expect("an error");
        assert!(error.contains("line 1"), "{error}");
        assert!(!error.contains("secret-token"), "{error}");
        assert!(World::parse("TENANT 1 http://a t\n").is_err());
    }
}
