using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class Priority : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_deliveries_due",
                table: "deliveries");

            migrationBuilder.AddColumn<short>(
                name: "priority",
                table: "messages",
                type: "smallint",
                nullable: false,
                defaultValue: (short)5);

            migrationBuilder.AddColumn<short>(
                name: "priority",
                table: "deliveries",
                type: "smallint",
                nullable: false,
                defaultValue: (short)5);

            // The claim's order (DeliveryLifecycle.ClaimOrder), written out here as it was when this migration was made.
            migrationBuilder.Sql("""
                CREATE INDEX ix_deliveries_due ON deliveries (((next_attempt_at AT TIME ZONE 'UTC') - priority * interval '10 seconds'))
                WHERE status IN ('pending', 'failed')
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_deliveries_due",
                table: "deliveries");

            migrationBuilder.DropColumn(
                name: "priority",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "priority",
                table: "deliveries");

            migrationBuilder.CreateIndex(
                name: "ix_deliveries_due",
                table: "deliveries",
                column: "next_attempt_at",
                filter: "status IN ('pending', 'failed')");
        }
    }
}
