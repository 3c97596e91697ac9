using Webhooks.Testing;

namespace Webhooks.Api.Tests;

[CollectionDefinition(StackFixture.Collection)]
public sealed class StackCollection : ICollectionFixture<StackFixture>;
