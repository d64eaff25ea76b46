//! The scale lab's world in a process of its own: `scale_world --tenants N [--eps E]
//! [--backlog B] [--rate-limit R] [--drain S]` starts N simulated Okta orgs, the token
//! endpoint and the products endpoint, and speaks the line protocol of
//! [`ucp_testkit::scale_world`] on its standard input and output. Large worlds open a
//! socket per org: raise `ulimit -n` first.

use std::time::Duration;

use std::io::BufRead;

use ucp_testkit::scale_world::{org_token, World, WorldConfig};

fn arg(args: &[String], name: &str) -> Option<f64> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let config = WorldConfig {
        tenants: arg(&args, "--tenants").unwrap_or(100.0) as usize,
        events_per_second: arg(&args, "--eps").unwrap_or(1.0),
        backlog: arg(&args, "--backlog").unwrap_or(20.0) as usize,
        rate_limit_per_minute: arg(&args, "--rate-limit").unwrap_or(600.0) as u32,
        drain: Duration::from_secs_f64(arg(&args, "--drain").unwrap_or(60.0)),
    };
    let world = World::start(&config).await?;
    for (i, org) in world.orgs.iter().enumerate() {
        println!("TENANT {i} {} {}", org.base_url(), org_token(i));
    }
    println!(
        "PRODUCTS {} {}",
        world.products_url,
        world.tokens.entra_token_url("lab-tenant")
    );
    println!("READY");
    // Standard input is read on a thread of its own; its end (the platform gone) ends the world.
    let (lines, mut commands) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = commands.recv().await {
        if line.trim() == "SNAPSHOT" {
            let report = world.settle(config.drain).await;
            println!("{}", report.line());
        }
    }
    Ok(())
}
