using Webhooks.Testing;

namespace Webhooks.EndToEnd.Tests;

[CollectionDefinition(StackFixture.Collection)]
public sealed class StackCollection : ICollectionFixture<StackFixture>;
