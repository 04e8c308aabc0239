import DebianFormat

extension Configuration {
    /// The seconds of a duration written `90s`, `30m`, `6h`, `2d`, `1w` or in plain seconds;
    /// nil for anything else, for none at all, and for more than `longestDuration`.
    public static func duration(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        var number = Substring(text)
        var factor = 1
        if let unit = text.last, let unitFactor = units[unit] {
            number = number.dropLast()
            factor = unitFactor
        }
        // Digits only: Int() would take a sign, and '+5h' is no duration a person writes.
        guard !number.isEmpty, number.utf8.allSatisfy(isASCIIDigit), let value = Int(number), value > 0 else {
            return nil
        }
        let (seconds, overflow) = value.multipliedReportingOverflow(by: factor)
        guard !overflow, seconds <= longestDuration else { return nil }
        return seconds
    }

    /// The longest duration Depot takes anywhere (`Valid-For`, `Min-Soak`, `Session-Lifetime`,
    /// a ramp's `--every`, a server's periods): ten years, far beyond any real use and far
    /// below what a date can hold.
    public static let longestDuration = 3650 * 86400

    /// The largest count a field takes (`Keep-Versions`, `Retain-History`, `Approvals`).
    public static let largestCount = 1_000_000

    /// What the duration fields accept, for error messages.
    public static let durationLimit = "at most 3650d"
}
