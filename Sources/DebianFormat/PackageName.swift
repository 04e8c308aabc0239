/// The rules for names in a binary package's control fields.
public enum PackageName {
    /// Debian Policy §5.6.1: lower case letters, digits, `+`, `-` and `.`; at least two
    /// characters; starting with a letter or digit. This also keeps names safe as path
    /// components: no `/`, and never `.` or `..`.
    public static func validate(_ name: String) throws(InvalidFieldValue) {
        func invalid(_ reason: String) -> InvalidFieldValue {
            InvalidFieldValue(kind: "package name", value: name, reason: reason)
        }
        guard name.utf8.count >= 2 else { throw invalid("a package name has at least two characters") }
        guard let first = name.utf8.first, isLowerAlphanumeric(first) else {
            throw invalid("a package name starts with a lower case letter or a digit")
        }
        for byte in name.utf8 where !(isLowerAlphanumeric(byte) || byte == 0x2B || byte == 0x2D || byte == 0x2E) {
            throw invalid(
                "a package name holds only lower case letters, digits, '+', '-' and '.' (found '\(Character(Unicode.Scalar(byte)))')"
            )
        }
    }
}

/// Debian architecture names (dpkg-architecture(1)): `amd64`, `arm64`, `all`, ...
public enum Architecture {
    public static let all = "all"

    /// The rule dpkg applies: lower case letters, digits and `-`, starting with a letter or
    /// digit. `allowWildcards` also accepts the `any` and `linux-any` forms used in
    /// relationship restrictions and source packages.
    public static func validate(_ name: String, allowWildcards: Bool = false) throws(InvalidFieldValue) {
        func invalid(_ reason: String) -> InvalidFieldValue {
            InvalidFieldValue(kind: "architecture", value: name, reason: reason)
        }
        guard let first = name.utf8.first else { throw invalid("the architecture is empty") }
        guard isLowerAlphanumeric(first) else {
            throw invalid("an architecture starts with a lower case letter or a digit")
        }
        guard name.utf8.allSatisfy({ isLowerAlphanumeric($0) || $0 == 0x2D }) else {
            throw invalid("an architecture holds only lower case letters, digits and '-'")
        }
        if !allowWildcards && (name == "any" || name.hasSuffix("-any") || name.hasPrefix("any-")) {
            throw invalid("a binary package names one architecture or 'all', not a wildcard")
        }
    }
}

/// ASCII a–z or 0–9.
@inlinable
public func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
    (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
}

/// ASCII 0–9.
@inlinable
public func isASCIIDigit(_ byte: UInt8) -> Bool {
    byte >= 0x30 && byte <= 0x39
}

/// ASCII 0–9, a–f or A–F.
@inlinable
public func isASCIIHexDigit(_ byte: UInt8) -> Bool {
    isASCIIDigit(byte) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66)
}
