namespace Outbox.IntegrationTests.Cdc;

/// <summary>One record read back from Kafka, with everything the conformance checks compare.</summary>
public sealed record CdcRecord(
    string Topic,
    int Partition,
    long Offset,
    byte[] Key,
    byte[] Value,
    IReadOnlyList<KeyValuePair<string, byte[]?>> Headers)
{
    public string KeyText => System.Text.Encoding.UTF8.GetString(Key);

    public Guid Id => Guid.Parse(Header("id") ?? throw new InvalidOperationException("The record has no id header."));

    public string? Header(string name)
    {
        foreach (var (key, value) in Headers)
        {
            if (key == name)
            {
                return value is null ? null : System.Text.Encoding.UTF8.GetString(value);
            }
        }

        return null;
    }
}
