using Webhooks.Testing;

namespace Webhooks.Worker.Tests;

[CollectionDefinition(StackFixture.Collection)]
public sealed class StackCollection : ICollectionFixture<StackFixture>;
