//! The scale lab's world in a process of its own: `scale_world --tenants N [--first F]
//! [--eps E] [--backlog B] [--rate-limit R] [--drain S]` starts N simulated Okta orgs
//! (tenants F to F + N - 1), the token
//! endpoint and the products endpoint, and speaks the line protocol of
//! [`ucp_testkit::scale_world`] on its standard input and output. Each org takes a listening
//! socket and the platform's connection to it: a lab larger than half the open-files limit
//! runs several worlds ([`ucp_testkit::scale_world::Worlds`]).

use std::io::BufRead;

use ucp_testkit::scale_world::{org_token, World, WorldConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = WorldConfig::from_args(&args)?;
    let world = World::start(&config).await?;
    for (i, org) in (world.first..).zip(&world.orgs) {
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
        match line.trim() {
            "LIVE" => world.live(),
            "LAST" => println!("{}", world.last_calls_line()),
            "SNAPSHOT" => {
                let report = world.settle(config.drain).await;
                println!("{}", report.line());
            }
            _ => {}
        }
    }
    Ok(())
}
