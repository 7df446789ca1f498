//! The one integration-test binary: every module below links the crate once, instead of once
//! per `tests/*.rs` file (most of a cold build on two cores).
//!
//! Each module tests one part through its real transport against the sandbox fakes;
//! `support` holds the shared harness.

mod support;

mod approver_events;
mod bounded_slack;
mod browser;
mod channel_story;
mod check_config;
mod cli;
mod config;
mod demo;
mod demo_web;
mod durable_acks;
mod engine;
mod graph_client;
mod link_buttons;
mod manifest;
mod no_token_in_logs;
mod parsers_prop;
mod run_binary;
mod sandbox_click_payload;
mod sandbox_slack;
mod scheduler;
mod scheduler_http;
mod scim_probe;
mod secret_hygiene;
mod slack_answers;
mod slack_api;
mod slack_http;
mod slack_socket;
mod slack_trust;
mod socket_liveness;
mod sweep_cli;
mod sweep_decisions;
mod web_form;
