// Part of bench/wasm-size.sh: the same exported function with and without minijinja.
#[no_mangle]
pub extern "C" fn run(ptr: *const u8, len: usize) -> usize {
    let src = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len)) };
    let ctx: serde_json::Value = serde_json::from_str(src).unwrap_or_default();
    #[cfg(feature = "engine")]
    {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let t = env.template_from_str(src).map(|t| (t.undeclared_variables(false).len(), t.render(minijinja::Value::from(minijinja::value::Serde(&ctx)))));
        return match t { Ok((n, Ok(s))) => s.len() + n, _ => 0 };
    }
    #[allow(unreachable_code)]
    ctx.to_string().len()
}
