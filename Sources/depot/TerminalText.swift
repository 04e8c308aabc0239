import DepotCore
import Foundation

/// Text from outside — notes, users, field values, names — made safe for a terminal: control
/// characters (C0 but tab, DEL, C1) and the bidirectional overrides are written as visible
/// escapes, so that none can move the cursor, recolour the screen, set the window title or
/// start a fake line of output.
func terminalSafe(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: needsEscape) else { return text }
    var safe = ""
    for scalar in text.unicodeScalars {
        guard needsEscape(scalar) else {
            safe.unicodeScalars.append(scalar)
            continue
        }
        switch scalar {
        case "\n": safe += "\\n"
        case "\r": safe += "\\r"
        default: safe += "\\u{" + String(scalar.value, radix: 16) + "}"
        }
    }
    return safe
}

private func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x09: false
    case 0x00..<0x20, 0x7F..<0xA0: true
    // Embeddings, overrides and isolates, which reorder what follows them on the line.
    case 0x202A...0x202E, 0x2066...0x2069: true
    default: false
    }
}

/// Prints one line of text output, whatever the text holds.
func printLine(_ text: String) {
    print(terminalSafe(text))
}

/// Writes one line to standard error, whatever the text holds.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((terminalSafe(text) + "\n").utf8))
}
