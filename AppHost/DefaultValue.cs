using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Publishing;

namespace Webhooks.AppHost;

/// <summary>
/// A parameter's value when <c>Parameters:&lt;name&gt;</c> is not configured: made by <paramref name="value"/> (the
/// development admin key, a new key-ring key). Nothing goes into a publishing manifest: a deployment brings its own.
/// </summary>
internal sealed class DefaultValue(Func<string> value) : ParameterDefault
{
    public override string GetDefaultValue() => value();

    public override void WriteToManifest(ManifestPublishingContext context)
    {
    }
}
