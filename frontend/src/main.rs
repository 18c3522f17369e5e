fn main() {
    yew::Renderer::<msnp_web::app::App>::new().render();
}
