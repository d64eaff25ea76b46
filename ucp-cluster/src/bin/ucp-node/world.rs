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
