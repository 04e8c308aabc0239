import DebianFormat

/// The stanza a `Packages` index carries for one `.deb`: its control fields in dpkg's usual
/// order, then where the file is and its size and checksums.
public enum IndexStanza {
    /// dpkg's order for binary package fields (Dpkg::Control::FieldsCore); fields it does
    /// not know follow in the order the package gave them.
    static let fieldOrder: [String] = [
        "Package", "Package-Type", "Source", "Version", "Built-Using", "Static-Built-Using", "Kernel-Version",
        "Built-For-Profiles", "Auto-Built-Package", "Architecture", "Subarchitecture", "Installer-Menu-Item",
        "Essential", "Protected", "Build-Essential", "Origin", "Bugs", "Maintainer", "Installed-Size",
        "Pre-Depends", "Depends", "Recommends", "Suggests", "Breaks", "Conflicts", "Enhances", "Provides",
        "Replaces", "Section", "Priority", "Multi-Arch", "Homepage", "Description", "Tag", "Task",
    ]

    private static let rank: [String: Int] = Dictionary(
        uniqueKeysWithValues: fieldOrder.enumerated().map { ($1.lowercased(), $0) })

    /// Fields a control file may hold that an index computes itself.
    private static let indexFields: Set<String> = ["filename", "size", "md5sum", "sha1", "sha256", "sha512"]

    /// Throws rather than write a stanza that would not read back as exactly these fields:
    /// one bad value in a `Packages` file ends its stanza early or runs into the next one.
    public static func render(control: Deb822Paragraph, filename: String, checksums: Checksums)
        throws(UnrepresentableField) -> String
    {
        // Each name lowercased once, not at every comparison.
        let fields = control.fields.enumerated()
            .compactMap { offset, field -> (rank: Int, offset: Int, field: Deb822Field)? in
                let name = field.name.lowercased()
                guard !indexFields.contains(name) else { return nil }
                return (rank[name] ?? fieldOrder.count, offset, field)
            }
            .sorted { ($0.rank, $0.offset) < ($1.rank, $1.offset) }
            .map(\.field)
        var paragraph = Deb822Paragraph(fields)
        paragraph.append(Deb822Field(name: "Filename", value: filename))
        paragraph.append(Deb822Field(name: "Size", value: String(checksums.size)))
        paragraph.append(Deb822Field(name: "MD5sum", value: checksums.md5))
        paragraph.append(Deb822Field(name: "SHA1", value: checksums.sha1))
        paragraph.append(Deb822Field(name: "SHA256", value: checksums.sha256))
        paragraph.append(Deb822Field(name: "SHA512", value: checksums.sha512))
        for field in paragraph.fields { try field.checkRepresentable() }
        return paragraph.rendered()
    }
}
