using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class PayloadAsPublished : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Payloads are kept as the text that was published from now on; rows stored as jsonb keep jsonb's spelling.
            migrationBuilder.Sql("ALTER TABLE messages ALTER COLUMN payload TYPE text USING payload::text;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("ALTER TABLE messages ALTER COLUMN payload TYPE jsonb USING payload::jsonb;");
        }
    }
}
