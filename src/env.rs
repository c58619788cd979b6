//! Reads the configuration from the Worker's environment once per isolate. A bad value is
//! not cached, so every request reports it until it is fixed.

use std::cell::RefCell;
use std::rc::Rc;

use gateway_core::config::Config;
use gateway_core::error::Result;
use worker::Env;

thread_local! {
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name).ok().map(|s| s.to_string()).or_else(|| env.var(name).ok().map(|v| v.to_string()))
}

pub fn config(env: &Env) -> Result<Rc<Config>> {
    if let Some(cfg) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(cfg);
    }
    let cfg = Rc::new(Config::from_lookup(|name| lookup(env, name))?);
    CONFIG.with(|c| *c.borrow_mut() = Some(cfg.clone()));
    Ok(cfg)
}
