import Foundation

/// A progress line on standard error, redrawn in place, shown only when standard error is a
/// terminal (scripts and CI logs get none) and the work has more than a few steps.
enum Progress {
    static func onTerminal(_ verb: String, minimum: Int = 20) -> (@Sendable (Int, Int) -> Void)? {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        return { done, total in
            guard total >= minimum else { return }
            let end = done == total ? "\n" : ""
            FileHandle.standardError.write(Data("\r\(verb) \(done)/\(total) files\(end)".utf8))
        }
    }
}
