using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class RetrySchedules : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int[]>(
                name: "retry_schedule",
                table: "endpoints",
                type: "integer[]",
                nullable: true);

            migrationBuilder.AddColumn<int[]>(
                name: "retry_schedule",
                table: "applications",
                type: "integer[]",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "retry_schedule",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "retry_schedule",
                table: "applications");
        }
    }
}
