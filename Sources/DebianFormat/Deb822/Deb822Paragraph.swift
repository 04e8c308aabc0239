/// A deb822 paragraph (a "stanza"): fields in their original order, looked up by name
/// without regard to ASCII case (deb822(5)).
public struct Deb822Paragraph: Sendable, Hashable {
    public private(set) var fields: [Deb822Field]
    /// Blank lines and comments between the previous paragraph (or the start) and this one.
    public var leadingTrivia: String
    /// Comment lines after the last field, before the paragraph's end.
    public var trailingComments: String

    public init(_ fields: [Deb822Field] = []) {
        self.fields = fields
        self.leadingTrivia = ""
        self.trailingComments = ""
    }

    /// Builds a paragraph from name–value pairs, in order.
    public init(_ pairs: KeyValuePairs<String, String>) {
        self.init(pairs.map { Deb822Field(name: $0.key, value: $0.value) })
    }

    init(fields: [Deb822Field], leadingTrivia: String, trailingComments: String) {
        self.fields = fields
        self.leadingTrivia = leadingTrivia
        self.trailingComments = trailingComments
    }

    public var isEmpty: Bool { fields.isEmpty }

    public func index(of name: String) -> Int? {
        fields.firstIndex { asciiCaseInsensitiveEquals($0.name, name) }
    }

    public func field(named name: String) -> Deb822Field? {
        index(of: name).map { fields[$0] }
    }

    /// The value of a field, or nil when absent. Setting a value replaces the field in place
    /// (keeping its position and spelling) or appends it; setting nil removes it.
    public subscript(name: String) -> String? {
        get { index(of: name).map { fields[$0].value } }
        set {
            switch (index(of: name), newValue) {
            case (let index?, let value?): fields[index].value = value
            case (let index?, nil): fields.remove(at: index)
            case (nil, let value?): fields.append(Deb822Field(name: name, value: value))
            case (nil, nil): break
            }
        }
    }

    public mutating func append(_ field: Deb822Field) {
        fields.append(field)
    }

    public mutating func removeField(named name: String) {
        if let index = index(of: name) { fields.remove(at: index) }
    }

    /// The paragraph's text: each field on its line(s), without the separating blank line.
    public func rendered() -> String {
        var output = ""
        // One allocation instead of one each time the text outgrows its buffer.
        output.reserveCapacity(fields.reduce(trailingComments.utf8.count) { $0 + $1.renderedSize })
        render(into: &output)
        return output
    }

    func render(into output: inout String) {
        for field in fields { field.render(into: &output) }
        output += trailingComments
    }
}

/// Compares two field names the way deb822 does: ASCII letters without regard to case.
@inlinable
func asciiCaseInsensitiveEquals(_ lhs: String, _ rhs: String) -> Bool {
    var left = lhs.utf8.makeIterator()
    var right = rhs.utf8.makeIterator()
    while true {
        switch (left.next(), right.next()) {
        case (nil, nil): return true
        case (let a?, let b?):
            if a != b && asciiLowercased(a) != asciiLowercased(b) { return false }
        default: return false
        }
    }
}

@inlinable
func asciiLowercased(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
}
