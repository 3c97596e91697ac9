using Webhooks.Testing;

namespace Webhooks.Dashboard.Tests;

[CollectionDefinition(StackFixture.Collection)]
public sealed class StackCollection : ICollectionFixture<StackFixture>, ICollectionFixture<BrowserFixture>;
