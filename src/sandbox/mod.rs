//! Local fakes of the services the bot talks to, used by the end-to-end tests and by
//! `scim-rotator demo`. Each fake is a *model* of its service (state, rules, errors), not a
//! list of canned replies, so a test fails when the bot would fail against the real thing.

pub mod slack;
