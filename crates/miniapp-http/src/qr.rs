//! QR codes as PNG images: the code's modules scaled to about the width asked for,
//! with a quiet zone, in a line colour on white (or on transparency).

/// A PNG of a QR code of `text`, about `width` pixels wide.
///
/// # Errors
///
/// When the text does not fit a QR code or encoding fails.
pub fn png(text: &str, width: u32, rgb: [u8; 3], hyaline: bool) -> Result<Vec<u8>, String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|error| error.to_string())?;
    let modules = u32::try_from(code.width()).map_err(|error| error.to_string())?;
    let colors = code.to_colors();
    let quiet = 4;
    let side_modules = modules + 2 * quiet;
    let scale = (width / side_modules).max(2);
    let side = side_modules * scale;
    let mut pixels = Vec::with_capacity((side * side * 4) as usize);
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = (x / scale, y / scale);
            let dark = mx >= quiet
                && my >= quiet
                && mx < quiet + modules
                && my < quiet + modules
                && colors[((my - quiet) * modules + (mx - quiet)) as usize] == qrcode::Color::Dark;
            if dark {
                pixels.extend_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
            } else if hyaline {
                pixels.extend_from_slice(&[255, 255, 255, 0]);
            } else {
                pixels.extend_from_slice(&[255, 255, 255, 255]);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|error| error.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|error| error.to_string())?;
    }
    Ok(out)
}

/// Percent-encodes a query component.
pub fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}
