//! Starts the app. The tenant's answer on `/callback` leaves the address bar first, so that
//! tokens never linger there, whatever happens next (settings or keys that cannot be loaded).

fn main() {
    let callback_answer = frontend::browser::take_callback_answer().map(Into::into);
    yew::Renderer::<frontend::app::App>::with_props(frontend::app::AppProps { callback_answer })
        .render();
}
