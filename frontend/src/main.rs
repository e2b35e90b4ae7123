fn main() {
    yew::Renderer::<frontend::app::App>::new().render();
}
